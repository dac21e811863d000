import { PlotError } from '@mlp/proto'
import { filesBelow } from '../pipeline/files-below.js'
import { dataFormat } from './data.js'

/** Data files one plot folder may hold: a larger folder is refused, not half drawn. */
export const MAX_FILES_IN_PLOT_FOLDER = 100

/**
 * The data files (CSV, TSV, JSON, YAML) below a plot path that is a folder
 * in the workspace, sorted, each a plot of its own as in DVC (DVCLive
 * writes `dvclive/plots/metrics/train/loss.tsv`...); undefined when the path
 * is not a folder. Symlinks are not followed.
 */
export function dataFilesIn (root: string, path: string): string[] | undefined {
  return filesBelow(root, path, (name) => dataFormat(name) != null, MAX_FILES_IN_PLOT_FOLDER,
    () => new PlotError(`plot folder '${path}' holds over ${MAX_FILES_IN_PLOT_FOLDER} data files: name the files instead`))
}
