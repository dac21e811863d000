import { extname, join, normalize, relative, sep } from 'node:path'
import { PlotError, type SkippedPlot } from '@mlp/proto'
import { rootPath } from '../pipeline/graph.js'
import type { ProjectPipeline } from '../pipeline/project-pipeline.js'
import { IMAGE_EXTENSIONS } from './constants.js'
import { dataFormat } from './data.js'
import { dataFilesIn } from './folders.js'

// The plots a project declares, as DVC 3 reads `plots:`: per-stage plot outs
// (`- path` or `- path: {x, y, template, ...}`) and the top-level list, whose
// entries are a data file (`- path` or `- path: {options}`) or, when `y`
// maps files to fields, a plot id drawing several files.

/** The templates mlp draws, DVC's built-in ones. */
export const TEMPLATES = ['linear', 'simple', 'scatter', 'smooth', 'bar_horizontal', 'bar_horizontal_sorted', 'confusion', 'confusion_normalized'] as const

/** A template name. */
export type TemplateName = typeof TEMPLATES[number]

/** Where one line (or set of bars, or matrix) of a plot takes its values. */
export interface SeriesRef {
  /** The data file, from the project root. */
  file: string
  /** The y field; undefined: the last field of the first record, as DVC infers it. */
  y?: string
  /** The x field and the file it comes from (the same file, or another read row by row alongside); undefined: the row number, `step`. */
  x?: { file: string, field: string }
}

/** One declared plot, ready to read and draw. */
export interface PlotDecl {
  id: string
  title: string
  template: TemplateName
  series: SeriesRef[]
  xLabel?: string
  yLabel?: string
  /** CSV/TSV: the first line names the columns (DVC's `header`, default true). */
  header: boolean
  /** The pipeline file (and stage) that declares it, for errors. */
  where: string
}

/** The declared plots, and those mlp does not draw (images). */
export interface DeclaredPlots {
  plots: PlotDecl[]
  skipped: SkippedPlot[]
}

const TOP_LEVEL_KEYS = ['x', 'y', 'template', 'title', 'x_label', 'y_label', 'header']

/** A path a pipeline file names, relative to `base` (a folder from the root), from the project root; refused if it leaves the project. */
function fromRoot (base: string, path: string, where: string): string {
  const p = normalize(join(base, path)).split(sep).join('/').replace(/\/$/, '')
  if (path.startsWith('/') || p === '..' || p.startsWith('../') || p === '.') throw new PlotError(`${where}: plot path '${path}' must name a file inside the project`)
  return p
}

function optionalText (options: Record<string, unknown>, key: string, where: string): string | undefined {
  const v = options[key]
  if (v == null) return undefined
  if (typeof v !== 'string' && typeof v !== 'number') throw new PlotError(`${where}: '${key}' must be a text`)
  return String(v)
}

function fieldList (v: unknown, what: string, where: string): string[] {
  const list = Array.isArray(v) ? v : [v]
  if (list.length === 0 || list.some((f) => typeof f !== 'string' || f === '')) throw new PlotError(`${where}: ${what} must be a field name or a list of field names`)
  return list as string[]
}

/**
 * A plot from its options. `file` is the data file when the plot is named
 * by one; `base` is the folder (from the root) paths in `y`/`x` mappings
 * are relative to.
 */
export function plotFromOptions (id: string, file: string | undefined, options: Record<string, unknown>, base: string, where: string): PlotDecl {
  const at = `${where}: plot '${id}'`
  const template = options.template ?? 'linear'
  if (typeof template !== 'string' || !(TEMPLATES as readonly string[]).includes(template)) {
    throw new PlotError(`${at}: unknown template ${JSON.stringify(template)} (mlp draws ${TEMPLATES.join(', ')}; custom templates are not supported)`)
  }
  if (options.header != null && typeof options.header !== 'boolean') throw new PlotError(`${at}: 'header' must be true or false`)
  const y = options.y
  const mapping = y != null && typeof y === 'object' && !Array.isArray(y)
  let series: SeriesRef[]
  if (mapping) {
    series = Object.entries(y as Record<string, unknown>).flatMap(([f, fields]) => {
      const path = fromRoot(base, f, at)
      return fieldList(fields, `y of '${f}'`, at).map((field) => ({ file: path, y: field }))
    })
    if (series.length === 0) throw new PlotError(`${at}: 'y' maps no file to a field`)
  } else {
    if (file == null) throw new PlotError(`${at}: names no data file: give 'y' as a mapping of files to fields`)
    series = y == null ? [{ file }] : fieldList(y, "'y'", at).map((field) => ({ file, y: field }))
  }
  const x = options.x
  if (typeof x === 'string' && x !== '') {
    for (const s of series) s.x = { file: s.file, field: x }
  } else if (x != null && typeof x === 'object' && !Array.isArray(x)) {
    const entries = Object.entries(x as Record<string, unknown>).map(([f, field]) => {
      if (typeof field !== 'string' || field === '') throw new PlotError(`${at}: x of '${f}' must be a field name`)
      return [fromRoot(base, f, at), field] as const
    })
    const byFile = new Map(entries)
    for (const s of series) {
      const own = byFile.get(s.file)
      if (own != null) s.x = { file: s.file, field: own }
      else if (entries.length === 1) s.x = { file: entries[0][0], field: entries[0][1] }
      else throw new PlotError(`${at}: 'x' names no field for '${s.file}'`)
    }
  } else if (x != null) {
    throw new PlotError(`${at}: 'x' must be a field name or a mapping of a file to a field`)
  }
  const decl: PlotDecl = {
    id,
    title: optionalText(options, 'title', at) ?? id,
    template: template as TemplateName,
    series,
    xLabel: optionalText(options, 'x_label', at),
    yLabel: optionalText(options, 'y_label', at),
    header: options.header !== false,
    where: at
  }
  for (const s of series) {
    if (dataFormat(s.file) == null) throw new PlotError(`${at}: '${s.file}' is not a CSV, TSV, JSON or YAML file`)
    if (s.x != null && dataFormat(s.x.file) == null) throw new PlotError(`${at}: '${s.x.file}' is not a CSV, TSV, JSON or YAML file`)
  }
  if (template.startsWith('confusion') && (series.length !== 1 || series[0].x == null)) {
    throw new PlotError(`${at}: a ${template} plot needs 'x' (the actual class field) and one 'y' (the predicted class field)`)
  }
  return decl
}

function isImage (path: string): boolean {
  return IMAGE_EXTENSIONS.includes(extname(path).toLowerCase())
}

/**
 * Every plot of every pipeline file of the project, in file order: each
 * file's stage plots, then its top-level ones. A top-level entry with the
 * same id as a stage plot replaces it (DVC's docs put a stage plot's
 * drawing options at the top level). A path that is a folder in the
 * workspace is a plot per data file below it. Image files are listed as
 * skipped.
 */
export function declaredPlots (root: string, pipeline: ProjectPipeline): DeclaredPlots {
  const byId = new Map<string, PlotDecl>()
  const skipped: SkippedPlot[] = []
  for (const unit of pipeline.units) {
    const dir = relative(root, join(root, unit.rel, '..')).split(sep).join('/')
    for (const stage of unit.pipeline.stages) {
      for (const out of stage.outs.filter((o) => o.kind === 'plot')) {
        const path = rootPath(stage, out.path)
        if (isImage(path)) {
          skipped.push({ id: path, reason: 'an image: mlp draws data plots only; open the file itself' })
          continue
        }
        for (const file of dataFilesIn(root, path) ?? [path]) byId.set(file, plotFromOptions(file, file, out.plot ?? {}, stage.wdir, `${unit.rel}: stage '${stage.name}'`))
      }
    }
    for (const def of unit.pipeline.plotDefs ?? []) {
      const where = `${unit.rel}: top-level 'plots'`
      for (const k of Object.keys(def.options)) if (!TOP_LEVEL_KEYS.includes(k)) throw new PlotError(`${where}: plot '${def.key}': unknown key '${k}' (known: ${TOP_LEVEL_KEYS.join(', ')})`)
      const y = def.options.y
      const isId = y != null && typeof y === 'object' && !Array.isArray(y)
      const id = isId ? (dir === '' ? def.key : `${unit.rel}::${def.key}`) : fromRoot(dir, def.key, where)
      if (!isId && isImage(id)) {
        skipped.push({ id, reason: 'an image: mlp draws data plots only; open the file itself' })
        continue
      }
      // a folder of data files is a plot per file, with the folder's options
      for (const file of isId ? [id] : dataFilesIn(root, id) ?? [id]) {
        byId.delete(file)
        byId.set(file, plotFromOptions(file, isId ? undefined : file, def.options, dir, where))
      }
    }
  }
  return { plots: [...byId.values()], skipped }
}
