import { PlotError } from '@mlp/proto'
import { MAX_CLASS_CHARS, MAX_MAGNITUDE, MIN_MAGNITUDE } from './constants.js'
import type { DataTable } from './data.js'
import type { PlotDecl, SeriesRef } from './declarations.js'
import { axisTypes, type PlotPoint } from './templates.js'

// A series' data points from its parsed file(s), checked: the fields must
// exist, and an axis the template reads as numbers must hold numbers.

/** One series' tables at one revision. */
export interface SeriesTables {
  ref: SeriesRef
  table: DataTable
  /** The table x comes from when it is another file than y's (read row by row alongside). */
  xTable?: DataTable
}

/** The y field a series draws: the one named, else (as DVC infers it) the last field of the first record. */
export function yFieldOf (ref: SeriesRef, table: DataTable): string {
  return ref.y ?? Object.keys(table.rows[0] ?? {}).at(-1) ?? table.fields.at(-1) ?? ''
}

function fieldCheck (table: DataTable, field: string, file: string, where: string): void {
  if (table.fields.includes(field)) return
  const shown = table.fields.slice(0, 12).map((f) => `'${f}'`).join(', ') + (table.fields.length > 12 ? ', ...' : '')
  throw new PlotError(`${where}: field '${field}' is not in ${file} (its fields: ${shown})`)
}

/** A value for an axis, or undefined for a missing one (empty, null, NaN): that point is left out. */
function axisValue (v: unknown, type: 'quantitative' | 'nominal', at: () => string): number | string | undefined {
  if (v == null || v === '') return undefined
  if (type === 'nominal') {
    // a class name is drawn on an axis and in the legend: a megabyte one would be drawn in full
    if (typeof v === 'string' && v.length > MAX_CLASS_CHARS) throw new PlotError(`${at()} is a class name of ${v.length} characters: mlp draws names of at most ${MAX_CLASS_CHARS}`)
    if (typeof v === 'string' || typeof v === 'number') return v
    if (typeof v === 'boolean') return String(v)
    throw new PlotError(`${at()} is ${JSON.stringify(v).slice(0, 40)}, not a class name`)
  }
  const n = typeof v === 'number' ? v : typeof v === 'string' && v.trim() !== '' ? Number(v) : NaN
  if (typeof v === 'number' && !Number.isFinite(v)) return undefined
  if (!Number.isFinite(n)) throw new PlotError(`${at()} is ${JSON.stringify(v).slice(0, 40)}, not a number`)
  // Vega's scales fail inside (an internal error, no message) on denormals like 5e-324 and on
  // magnitudes near the double's limits: refuse them here with the record that holds them
  const m = Math.abs(n)
  if (m !== 0 && (m < MIN_MAGNITUDE || m > MAX_MAGNITUDE)) throw new PlotError(`${at()} is ${n}: mlp draws numbers of magnitude ${MIN_MAGNITUDE} to ${MAX_MAGNITUDE} (or 0)`)
  return n
}

/**
 * The points of one series at one revision. `label` is its legend entry;
 * `where` names the plot, file and revision in errors (`mlp.yaml: plot
 * 'loss'`, `at HEAD~1`).
 */
export function seriesPoints (plot: PlotDecl, s: SeriesTables, rev: string, label: string, where: string): PlotPoint[] {
  const types = axisTypes(plot.template)
  const yField = yFieldOf(s.ref, s.table)
  // an inferred field name is drawn as the axis title and in the legend: a JSON key can be megabytes
  if (yField.length > MAX_CLASS_CHARS) throw new PlotError(`${where}: ${s.ref.file} at ${rev}: its y field is a name of ${yField.length} characters: mlp draws names of at most ${MAX_CLASS_CHARS}`)
  fieldCheck(s.table, yField, `${s.ref.file} at ${rev}`, where)
  const xRef = s.ref.x
  const xTable = s.xTable ?? s.table
  if (xRef != null) {
    fieldCheck(xTable, xRef.field, `${xRef.file} at ${rev}`, where)
    if (xTable.rows.length !== s.table.rows.length) throw new PlotError(`${where}: x comes from ${xRef.file} (${xTable.rows.length} records) and y from ${s.ref.file} (${s.table.rows.length}) at ${rev}: they must have as many records`)
  }
  const points: PlotPoint[] = []
  s.table.rows.forEach((row, i) => {
    const at = (file: string, field: string) => () => `${where}: ${file} at ${rev}, record ${i + 1}: '${field}'`
    const x = xRef == null ? i : axisValue(xTable.rows[i][xRef.field], types.x, at(xRef.file, xRef.field))
    const y = axisValue(row[yField], types.y, at(s.ref.file, yField))
    if (x != null && y != null) points.push({ x, y, rev, series: label })
  })
  return points
}
