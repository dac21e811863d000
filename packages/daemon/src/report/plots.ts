import { renderPlots, type PlotsComponents } from '../plots/index.js'

/** One rendered plot, as the plots renderer gives it. */
export interface RenderedPlot {
  id: string
  title: string
  svg: string
}

/**
 * Renders the project's declared plots with the base and the head overlaid,
 * one SVG per plot: the seam between the report and the plots renderer
 * (packages/daemon/src/plots/). Without one, the report says plots were not
 * rendered.
 */
export type PlotRenderer = (root: string, base: string, signal?: AbortSignal) => Promise<RenderedPlot[]>

/** The report's {@link PlotRenderer} over plots/: each plot shows `base` (a commit) and the workspace, labelled base and head. */
export function plotsRenderer (c: PlotsComponents): PlotRenderer {
  return async (root, base, signal) => await renderPlots(c, root, { revisions: [{ rev: base, label: 'base' }, { rev: 'workspace', label: 'head' }], signal })
}
