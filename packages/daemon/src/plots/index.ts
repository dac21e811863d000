import type { RenderedPlot } from '@mlp/proto'
import { drawPlots, type RevisionInput } from './draw.js'
import type { PlotsComponents } from './source.js'

export { WORKSPACE, MAX_PLOT_FILE_BYTES, MAX_PLOT_POINTS, MAX_PAGE_POINTS, MAX_REVISIONS } from './constants.js'
export { drawPlots, type DrawOptions, type DrawnPlots, type RevisionInput } from './draw.js'
export { plotsHtml, escapeHtml, type PlotsPage } from './html.js'
export type { PlotsComponents } from './source.js'
export { TEMPLATES, type TemplateName } from './declarations.js'

/** Options of {@link renderPlots}. */
export interface RenderPlotsOptions {
  /**
   * The revisions to overlay in every plot, in legend order: git revisions
   * (`HEAD~1`, a branch, a full commit id) or `'workspace'` (the working
   * tree), each optionally with the label its legend shows
   * (`{ rev: baseCommit, label: 'base' }`). Default: the workspace alone.
   * At most {@link MAX_REVISIONS}.
   */
  revisions?: RevisionInput[]
  /** Plot ids or data files (relative to `cwd`, default the project root); default: every plot the project declares. */
  targets?: string[]
  cwd?: string
  signal?: AbortSignal
}

/**
 * Draws the plots a project declares (DVC's `plots:` schema: each stage's
 * plot outs and the top-level `plots:` list of every pipeline file), each
 * overlaying the given revisions, as standalone SVG documents: one per plot,
 * in declaration order, each usable as a `.svg` file as it is. Data at a
 * commit comes from git when git tracks the file, else from the store
 * through that commit's `mlp.lock` (or pointer file) content id, fetched
 * from peers with `c.fetch` when this machine lacks it.
 *
 * A project that declares no plots gives `[]`. A data file one revision
 * lacks (a plot added since the base) leaves that revision out of that plot,
 * as DVC does; {@link drawPlots} lists those, and the image plots (`.png`...)
 * it does not draw.
 *
 * Writes nothing. Throws (one line each): `PlotError` for a data file no
 * revision has, a malformed one, a field not in the data, an unknown
 * template or data over the caps; `UnknownRevisionError` for a revision git
 * does not know; `RevisionDataMissingError` when a revision records data
 * (a content id) that is neither here nor given by a peer;
 * `PipelineFileError` for an invalid pipeline file.
 *
 * @example
 * ```ts
 * const plots = await renderPlots({ store, fetch }, root, { revisions: [{ rev: baseCommit, label: 'base' }, { rev: 'workspace', label: 'head' }] })
 * for (const p of plots) await writeFile(`${slug(p.id)}.svg`, p.svg)
 * ```
 */
export async function renderPlots (c: PlotsComponents, root: string, options: RenderPlotsOptions = {}): Promise<RenderedPlot[]> {
  return (await drawPlots(c, root, options)).plots
}
