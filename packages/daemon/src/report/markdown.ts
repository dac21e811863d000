// Safe markdown pieces. Everything a report shows (paths, param and metric
// names and values, stage names, peer ids) comes from commits, possibly a
// teammate's: as text it must neither break a table nor become markup.

/** Longest text put in one cell: longer is cut, with `…`. */
export const MAX_CELL_CHARS = 200

/**
 * Text as inert markdown: one line, `|` cannot end a table cell, and
 * backticks, brackets, emphasis, `<`/`>` (no HTML, no autolink) and entity
 * `&` are escaped, so `](javascript:...)` or `<script>` show as typed.
 */
export function text (value: string, max = MAX_CELL_CHARS): string {
  // eslint-disable-next-line no-control-regex
  let s = value.replace(/[\u0000-\u001f\u007f\u2028\u2029]+/g, ' ')
  if (s.length > max) s = `${s.slice(0, max)}…`
  return s
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/[\\`*_[\]{}()#+!|~"]/g, (c) => `\\${c}`)
}

/** A value of a params or metrics file as cell text: strings as is, the rest as JSON; absent: `-`. */
export function value (v: unknown): string {
  if (v == null) return '-'
  return text(typeof v === 'string' ? v : JSON.stringify(v))
}

/** A markdown table; every cell is already safe text. */
export function table (header: string[], rows: string[][]): string {
  const line = (cells: string[]): string => `| ${cells.map((c) => (c === '' ? ' ' : c)).join(' | ')} |`
  return [line(header), line(header.map(() => '---')), ...rows.map(line)].join('\n')
}

/** A file name mlp made (letters, digits, `-`, `_`, `.`) as a link target: kept relative, never a scheme. */
export function fileLink (label: string, file: string): string {
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(file)) throw new TypeError(`not a plain file name: ${file}`)
  return `[${text(label)}](./${file})`
}

/** A short slug of a title for a file name: lowercase letters, digits and `-`, at most 40 characters. */
export function slug (title: string): string {
  const s = title.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-+|-+$/g, '').slice(0, 40).replace(/-+$/, '')
  return s === '' ? 'plot' : s
}
