import { extname } from 'node:path'
import { parse as parseYaml } from 'yaml'
import { PlotError } from '@mlp/proto'

// Plot data files as DVC reads them: CSV and TSV with a header line (or
// without: columns are then named 0, 1, ...), and JSON or YAML holding a
// list of records, at the top or anywhere below (the first one found).

/** One data point as the file holds it: field name to value. */
export type Row = Record<string, unknown>

/** A parsed data file. */
export interface DataTable {
  rows: Row[]
  /** Field names in the order they first appear. */
  fields: string[]
}

/** How to read a data file. */
export interface ParseOptions {
  /** CSV/TSV: the first line names the columns (default true, as in DVC). */
  header?: boolean
}

/** The data formats plots read, by file ending. */
export type DataFormat = 'csv' | 'tsv' | 'json' | 'yaml'

/** The format of a data file from its name, or undefined for one plots cannot read. */
export function dataFormat (file: string): DataFormat | undefined {
  const ext = extname(file).toLowerCase()
  if (ext === '.csv') return 'csv'
  if (ext === '.tsv') return 'tsv'
  if (ext === '.json') return 'json'
  if (ext === '.yaml' || ext === '.yml') return 'yaml'
  return undefined
}

/**
 * Parses a data file's text. `where` names it in errors (`eval/roc.csv at
 * HEAD~1`). Malformed text, a table without rows or a JSON/YAML file with no
 * list of records is a {@link PlotError} naming the file and, where it can,
 * the line.
 */
export function parseData (text: string, file: string, where: string, options: ParseOptions = {}): DataTable {
  const format = dataFormat(file)
  if (format == null) throw new PlotError(`${where}: plots read CSV, TSV, JSON or YAML files (by their ending), not '${extname(file) === '' ? file : extname(file)}'`)
  if (format === 'csv' || format === 'tsv') return parseDelimited(text, format === 'csv' ? ',' : '\t', where, options.header !== false)
  let value: unknown
  try {
    value = format === 'json' ? JSON.parse(text) : parseYaml(text)
  } catch (err) {
    throw new PlotError(`${where}: not valid ${format === 'json' ? 'JSON' : 'YAML'}: ${(err as Error).message.split('\n')[0]}`)
  }
  const rows = firstRecordList(value)
  if (rows == null) throw new PlotError(`${where}: holds no list of records (like [{"step": 1, "loss": 0.5}, ...]) to plot`)
  return { rows, fields: fieldsOf(rows) }
}

function isRecord (v: unknown): v is Row {
  return v != null && typeof v === 'object' && !Array.isArray(v)
}

/**
 * The list DVC plots from a JSON or YAML value: the value itself if it is a
 * non-empty list of records, else the first such list below it, depth first
 * in key order. Depth is bounded by the parser's own nesting of the file.
 */
export function firstRecordList (value: unknown): Row[] | undefined {
  if (Array.isArray(value)) return value.length > 0 && value.every(isRecord) ? value : undefined
  if (!isRecord(value)) return undefined
  for (const v of Object.values(value)) {
    const found = firstRecordList(v)
    if (found != null) return found
  }
  return undefined
}

function fieldsOf (rows: Row[]): string[] {
  const seen = new Set<string>()
  for (const r of rows) for (const k of Object.keys(r)) seen.add(k)
  return [...seen]
}

const NUMBER = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/

/** A CSV cell as DVC's readers see it: a number where it reads as one, else the text. */
function cell (text: string): string | number {
  return NUMBER.test(text.trim()) ? Number(text) : text
}

/**
 * RFC 4180 CSV (or TSV): quoted cells may hold the delimiter, quotes (`""`)
 * and line breaks; `\r\n` and `\n` both end a record. A record with another
 * number of cells than the header, or a quote left open, is refused with
 * its line number; blank lines are skipped.
 */
export function parseDelimited (text: string, delimiter: string, where: string, header = true): DataTable {
  const records = splitRecords(text.charCodeAt(0) === 0xfeff ? text.slice(1) : text, delimiter, where)
  if (records.length === 0) throw new PlotError(`${where}: is empty: nothing to plot`)
  const width = records[0].cells.length
  const fields = header ? records[0].cells.map((c) => c.trim()) : records[0].cells.map((_, i) => String(i))
  if (header) {
    const dup = fields.find((f, i) => fields.indexOf(f) !== i)
    if (dup != null) throw new PlotError(`${where}:1: the column '${dup}' is named twice`)
  }
  const body = header ? records.slice(1) : records
  if (body.length === 0) throw new PlotError(`${where}: has a header and no rows: nothing to plot`)
  const rows = body.map((r) => {
    if (r.cells.length !== width) throw new PlotError(`${where}:${r.line}: ${r.cells.length} ${delimiter === '\t' ? 'tab-separated' : 'comma-separated'} cells where the ${header ? 'header has' : 'first line has'} ${width}`)
    const row: Row = {}
    fields.forEach((f, i) => { row[f] = cell(r.cells[i]) })
    return row
  })
  return { rows, fields }
}

function splitRecords (text: string, delimiter: string, where: string): Array<{ line: number, cells: string[] }> {
  const out: Array<{ line: number, cells: string[] }> = []
  let cells: string[] = []
  let current = ''
  let quoted = false
  let line = 1
  let startLine = 1
  let quoteLine = 1
  let touched = false
  const endRecord = (): void => {
    cells.push(current)
    // a blank line is no record
    if (cells.length > 1 || cells[0] !== '' || touched) out.push({ line: startLine, cells })
    cells = []
    current = ''
    touched = false
  }
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]
    if (quoted) {
      if (ch === '"') {
        if (text[i + 1] === '"') {
          current += '"'
          i++
        } else {
          quoted = false
        }
      } else {
        if (ch === '\n') line++
        current += ch
      }
      continue
    }
    if (ch === '"' && current === '') {
      quoted = true
      touched = true
      quoteLine = line
    } else if (ch === delimiter) {
      cells.push(current)
      current = ''
      touched = true
    } else if (ch === '\n' || ch === '\r') {
      if (ch === '\r' && text[i + 1] === '\n') i++
      endRecord()
      line++
      startLine = line
    } else if (ch === '"') {
      throw new PlotError(`${where}:${line}: a quote inside an unquoted cell: quote the whole cell ("a ""b"" c")`)
    } else {
      current += ch
    }
  }
  if (quoted) throw new PlotError(`${where}:${quoteLine}: a quoted cell is never closed`)
  if (current !== '' || cells.length > 0 || touched) endRecord()
  return out
}
