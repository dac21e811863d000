import { extname } from 'node:path'
import { parse as parseYaml } from 'yaml'
import { PlotError } from '@mlp/proto'
import { MAX_CELL_CHARS, MAX_COLUMNS, MAX_FILE_CELLS, MAX_NESTING, MAX_PLOT_POINTS } from './constants.js'

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
  checkTextNesting(text, format, where)
  let value: unknown
  try {
    value = format === 'json' ? JSON.parse(text) : parseYaml(text)
  } catch (err) {
    throw new PlotError(`${where}: not valid ${format === 'json' ? 'JSON' : 'YAML'}: ${(err as Error).message.split('\n')[0]}`)
  }
  checkNesting(value, where)
  const rows = firstRecordList(value)
  if (rows == null) throw new PlotError(`${where}: holds no list of records (like [{"step": 1, "loss": 0.5}, ...]) to plot`)
  if (rows.length > MAX_PLOT_POINTS) throw tooManyRecords(where)
  return { rows, fields: fieldsOf(rows, where) }
}

/** A file of more records than one plot draws: refused as it is read, never kept as millions of rows. */
function tooManyRecords (where: string): Error {
  return new PlotError(`${where}: over ${MAX_PLOT_POINTS} data points: mlp draws at most that many in one plot (thin the log)`)
}

function isRecord (v: unknown): v is Row {
  return v != null && typeof v === 'object' && !Array.isArray(v)
}

/**
 * The list DVC plots from a JSON or YAML value: the value itself if it is a
 * non-empty list of records, else the first such list below it, depth first
 * in key order. The walk keeps its own stack: a teammate's file nested
 * 100,000 deep would overflow the call stack of a recursive one.
 */
export function firstRecordList (value: unknown): Row[] | undefined {
  const stack: unknown[] = [value]
  while (stack.length > 0) {
    const v = stack.pop()
    if (Array.isArray(v)) {
      if (v.length > 0 && v.every(isRecord)) return v
      continue
    }
    if (!isRecord(v)) continue
    // pushed in reverse so that the first key is walked first
    const children = Object.values(v)
    for (let i = children.length - 1; i >= 0; i--) stack.push(children[i])
  }
  return undefined
}

/** Deepest a YAML line may reach, indentation columns and open brackets together: the YAML parser recurses per level and overflowed the stack at 879. */
const MAX_YAML_LINE_DEPTH = 256

/**
 * Refuses JSON nested deeper than {@link MAX_NESTING} (brackets outside
 * strings), or YAML whose brackets or indentation go that deep, before the
 * parser sees it: the YAML parser recurses once per level. One pass over the
 * text. YAML brackets are counted in strings too (a plain scalar has no
 * syntax to skip): a false refusal needs dozens of unclosed brackets in one
 * value, which plot data does not hold.
 */
function checkTextNesting (text: string, format: 'json' | 'yaml', where: string): void {
  const refuse = (): never => { throw new PlotError(`${where}: nested over ${MAX_NESTING} levels deep: mlp plots lists of flat records`) }
  let depth = 0
  let indent = 0
  let lineStart = true
  let inString = false
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    if (inString) {
      if (c === 0x5c) i++ // a backslash escapes the next character
      else if (c === 0x22) inString = false
      continue
    }
    if (c === 0x0a) {
      lineStart = true
      indent = 0
      continue
    }
    if (lineStart && (c === 0x20 || c === 0x2d)) {
      // YAML's block nesting: spaces and the `- ` of list items before a line's content
      if (format === 'yaml' && ++indent + depth > MAX_YAML_LINE_DEPTH) refuse()
      continue
    }
    lineStart = false
    if (c === 0x22 && format === 'json') inString = true
    else if (c === 0x5b || c === 0x7b) {
      if (++depth > MAX_NESTING) refuse()
    } else if ((c === 0x5d || c === 0x7d) && depth > 0) depth--
  }
}

/**
 * Refuses a JSON/YAML value nested deeper than {@link MAX_NESTING}: its
 * records would reach code that recurses (messages that quote a value,
 * the render thread's copy of the spec). Iterative, so any depth is measured.
 */
function checkNesting (value: unknown, where: string): void {
  const stack: Array<{ v: unknown, depth: number }> = [{ v: value, depth: 0 }]
  while (stack.length > 0) {
    const { v, depth } = stack.pop() as { v: unknown, depth: number }
    if (v == null || typeof v !== 'object') continue
    if (depth >= MAX_NESTING) throw new PlotError(`${where}: nested over ${MAX_NESTING} levels deep: mlp plots lists of flat records`)
    for (const child of Object.values(v)) if (child != null && typeof child === 'object') stack.push({ v: child, depth: depth + 1 })
  }
}

function fieldsOf (rows: Row[], where: string): string[] {
  const seen = new Set<string>()
  for (const r of rows) {
    for (const k of Object.keys(r)) seen.add(k)
    // as a CSV's columns: every record is an object of up to that many keys
    if (seen.size > MAX_COLUMNS) throw new PlotError(`${where}: over ${MAX_COLUMNS} fields in its records: mlp reads at most that many columns`)
  }
  return [...seen]
}

// Every part has one way to match (the digits before a '.' cannot also be
// the digits after it), so a long digit run that fails at its end is
// rejected in one pass: `\d+\.?\d*` backtracked quadratically there.
const NUMBER = /^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$/

/** Longest cell read as a number: a double has 17 significant digits, so a longer one is text (or a hostile run). */
const MAX_NUMBER_CHARS = 64

/** A CSV cell as DVC's readers see it: a number where it reads as one, else the text. */
function cell (text: string): string | number {
  const t = text.trim()
  return t.length <= MAX_NUMBER_CHARS && NUMBER.test(t) ? Number(t) : text
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
    // a Set: indexOf per field was quadratic in a 40,000-column header
    const seen = new Set<string>()
    const dup = fields.find((f) => seen.has(f) || (seen.add(f), false))
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
  // the cell being read is text.slice(start, i), plus, in a quoted cell, the parts before each `""`
  let parts: string[] = []
  let start = 0
  let quoted = false
  let line = 1
  let startLine = 1
  let quoteLine = 1
  let touched = false
  let total = 0
  const endCell = (end: number): void => {
    const length = parts.reduce((n, p) => n + p.length, 0) + end - start
    if (length > MAX_CELL_CHARS) throw new PlotError(`${where}:${startLine}: a cell of ${length} characters: mlp reads cells of at most ${MAX_CELL_CHARS}`)
    if (cells.length >= MAX_COLUMNS) throw new PlotError(`${where}:${startLine}: over ${MAX_COLUMNS} cells in one record: mlp reads at most that many columns`)
    if (++total > MAX_FILE_CELLS) throw new PlotError(`${where}:${startLine}: over ${MAX_FILE_CELLS} cells in the file: mlp reads at most that many (plot fewer columns)`)
    parts.push(text.slice(start, end))
    cells.push(parts.length === 1 ? parts[0] : parts.join(''))
    parts = []
  }
  const endRecord = (end: number): void => {
    endCell(end)
    // a blank line is no record
    if (cells.length > 1 || cells[0] !== '' || touched) out.push({ line: startLine, cells })
    // the header and MAX_PLOT_POINTS rows
    if (out.length > MAX_PLOT_POINTS + 1) throw tooManyRecords(where)
    cells = []
    touched = false
  }
  let i = 0
  for (; i < text.length; i++) {
    const ch = text[i]
    if (quoted) {
      if (ch === '"') {
        if (text[i + 1] === '"') {
          // keep one quote of the two: the part so far ends after the first
          parts.push(text.slice(start, i + 1))
          i++
          start = i + 1
        } else {
          parts.push(text.slice(start, i))
          quoted = false
          start = i + 1
        }
      } else if (ch === '\n') {
        line++
      }
      continue
    }
    if (ch === '"' && i === start && parts.length === 0) {
      quoted = true
      touched = true
      quoteLine = line
      start = i + 1
    } else if (ch === delimiter) {
      endCell(i)
      start = i + 1
      touched = true
    } else if (ch === '\n' || ch === '\r') {
      endRecord(i)
      if (ch === '\r' && text[i + 1] === '\n') i++
      line++
      startLine = line
      start = i + 1
    } else if (ch === '"') {
      throw new PlotError(`${where}:${line}: a quote inside an unquoted cell: quote the whole cell ("a ""b"" c")`)
    }
  }
  if (quoted) throw new PlotError(`${where}:${quoteLine}: a quoted cell is never closed`)
  if (start < text.length || parts.length > 0 || cells.length > 0 || touched) endRecord(text.length)
  return out
}
