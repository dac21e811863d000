import { define } from './errors.js'

// Types and errors of `mlp plots show` and `mlp plots diff`: the plots a
// pipeline declares (DVC's `plots:` schema), drawn as SVG by the daemon.

/**
 * A plot cannot be drawn: its data file is missing or malformed, a field it
 * names is not in the data, its template is unknown, or its data is over
 * the size mlp draws. The message names the plot, the file and the revision.
 */
export const PlotError = define('PlotError', 'Cannot draw the plot')

/** One drawn plot: a standalone SVG document (usable as a `.svg` file as it is). */
export interface RenderedPlot {
  /** The plot's id: its data file's path from the project root, or the id a top-level `plots:` mapping gives it. */
  id: string
  /** Its title (`title:` in the pipeline file, else the id). */
  title: string
  /** The template it was drawn with (`linear`, `confusion`, ...). */
  template: string
  /** The SVG text, `<svg xmlns=...>...</svg>`. */
  svg: string
}

/** One revision a plot was drawn at. */
export interface PlotRevision {
  /** As typed (`HEAD~1`, a branch), or `workspace`. */
  rev: string
  /** The full commit id; absent for the workspace. */
  commit?: string
}

/** A declared plot that was not drawn, and why (an image plot, say). */
export interface SkippedPlot {
  id: string
  reason: string
}

/** A data file one revision does not have: that revision is left out of the plot (as DVC does for a plot added since). */
export interface AbsentData {
  id: string
  rev: string
  file: string
}

/** What `plots/show` and `plots/diff` answer: the plots and the self-contained HTML page that shows them (the CLI writes it). */
export interface PlotsResult {
  revisions: PlotRevision[]
  plots: RenderedPlot[]
  skipped: SkippedPlot[]
  absent: AbsentData[]
  /** One HTML document with every SVG inline: no script, no external URL. */
  html: string
}

/** The request of the `plots/show` route: the workspace's plots. */
export interface PlotsShowRequest {
  cwd: string
  /** Plot ids or data files (relative to `cwd`); absent: every declared plot. */
  targets?: string[]
}

/** The request of the `plots/diff` route: the same plots at several revisions, overlaid. */
export interface PlotsDiffRequest {
  cwd: string
  /**
   * Git revisions (`workspace` names the working tree). As in DVC: none
   * means `HEAD` and the workspace, one means it and the workspace.
   */
  revs?: string[]
  targets?: string[]
}
