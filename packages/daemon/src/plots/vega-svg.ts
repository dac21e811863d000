import { PlotError } from '@mlp/proto'
import { parse, View, type Loader } from 'vega'
import { compile, type TopLevelSpec } from 'vega-lite'

// Vega-Lite → Vega → SVG, headless: Vega's SVG string renderer needs no
// canvas and no DOM. It runs in the render worker (render.ts), off the
// daemon's event loop. The page must work offline, so nothing may be loaded:
// every spec carries its data inline, and the loader refuses any URL or file
// a spec (or a bug) might name.

function refuse (what: string): never {
  throw new PlotError(`a plot asked to load ${JSON.stringify(what.slice(0, 80))}: plots draw inline data only`)
}

/** A Vega loader that loads nothing. */
const NO_LOADER: Loader = {
  load: async (uri) => refuse(uri),
  sanitize: async (uri) => refuse(uri),
  http: async (uri) => refuse(uri),
  file: async (name) => refuse(name)
}

/** The logger interface Vega and Vega-Lite take. */
type VegaLogger = NonNullable<NonNullable<ConstructorParameters<typeof View>[1]>['logger']>

/**
 * A logger that prints nothing (the daemon never prints) and keeps the
 * errors, which Vega logs instead of throwing.
 */
class QuietLogger implements VegaLogger {
  readonly errors: string[] = []
  level (l?: number): number | this { return l == null ? 0 : this }
  error (...args: unknown[]): this {
    this.errors.push(args.map((x) => x instanceof Error ? x.message : String(x)).join(' '))
    return this
  }

  warn (): this { return this }
  info (): this { return this }
  debug (): this { return this }
}

/** The standalone SVG document of a Vega-Lite spec, drawn on this thread. `what` names the plot in errors. */
export async function vegaSvg (spec: TopLevelSpec, what: string): Promise<string> {
  const logger = new QuietLogger()
  let view: View | undefined
  try {
    const vega = compile(spec, { logger }).spec
    view = new View(parse(vega), { renderer: 'none', loader: NO_LOADER, logger })
    const svg = await view.toSVG()
    if (logger.errors.length > 0) throw new Error(logger.errors[0])
    return svg
  } catch (err) {
    if (err instanceof PlotError) throw err
    throw new PlotError(`${what}: Vega could not draw it: ${(err as Error).message.split('\n')[0]}`, { cause: err })
  } finally {
    view?.finalize()
  }
}
