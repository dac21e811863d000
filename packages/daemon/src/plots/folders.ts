import { lstatSync, readdirSync } from 'node:fs'
import { join } from 'node:path'
import { PlotError } from '@mlp/proto'
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
  const isDir = (p: string): boolean => { try { return lstatSync(join(root, p)).isDirectory() } catch { return false } }
  if (!isDir(path)) return undefined
  const found: string[] = []
  const stack = [path]
  while (stack.length > 0) {
    const dir = stack.pop() as string
    for (const e of readdirSync(join(root, dir), { withFileTypes: true })) {
      const p = `${dir}/${e.name}`
      if (e.isDirectory()) stack.push(p)
      else if (e.isFile() && dataFormat(e.name) != null) found.push(p)
      if (found.length > MAX_FILES_IN_PLOT_FOLDER) throw new PlotError(`plot folder '${path}' holds over ${MAX_FILES_IN_PLOT_FOLDER} data files: name the files instead`)
    }
  }
  return found.sort()
}
