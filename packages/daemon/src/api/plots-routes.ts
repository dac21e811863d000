import { BadRequestError, PlotError, type PlotsResult } from '@mlp/proto'
import { drawPlots, plotsHtml, WORKSPACE, type PlotsComponents, type RevisionInput } from '../plots/index.js'
import { withExperiments, type PlotsExperiments } from '../plots/experiments.js'
import { findProject } from '../tracking/project.js'
import type { Handlers } from './server.js'
import { cwdOf, stringList } from './validate.js'

/** Routes about plots. */
export type PlotsRoute = 'plots/show' | 'plots/diff'

/** Revisions of `plots diff`, as DVC picks them: none means HEAD and the workspace, one means it and the workspace. */
function diffRevisions (revs: string[]): string[] {
  if (revs.length === 0) return ['HEAD', WORKSPACE]
  if (revs.length === 1) return revs[0] === WORKSPACE ? revs : [revs[0], WORKSPACE]
  return revs
}

/** Handlers of the plots routes: they draw and answer the page; the CLI writes it where the user said. */
export function createPlotsHandlers (c: PlotsComponents & { experiments?: PlotsExperiments }): Pick<Handlers, PlotsRoute> {
  const page = async (cwd: string, revisions: string[], targets: string[] | undefined, signal: AbortSignal): Promise<PlotsResult> => {
    const root = findProject(cwd)
    // `plots diff <exp>`: a name git does not know may be an experiment's
    const inputs: RevisionInput[] = c.experiments != null ? await withExperiments(c.experiments, root, revisions) : revisions
    const drawn = await drawPlots(c, root, { revisions: inputs, targets, cwd, signal })
    // asked to draw, with nothing declared: say how to declare one rather than write an empty page
    if (drawn.plots.length === 0 && drawn.skipped.length === 0) throw new PlotError(`no plots declared in ${root}: add a stage's \`plots:\` or a top-level \`plots:\` list to mlp.yaml (or dvc.yaml), or name a data file: \`mlp plots show eval/loss.csv\``)
    return { ...drawn, html: plotsHtml(drawn) }
  }
  return {
    'plots/show': async (body, { signal }) => await page(cwdOf(body), [WORKSPACE], stringList(body.targets, 'targets'), signal),
    'plots/diff': async (body, { signal }) => {
      const revs = stringList(body.revs, 'revs') ?? []
      if (revs.some((r) => r === '')) throw new BadRequestError("'revs' must not hold an empty revision")
      return await page(cwdOf(body), diffRevisions(revs), stringList(body.targets, 'targets'), signal)
    }
  }
}
