import { PipelineError } from './errors.js'
import { isComposite, pyFloat, PyFloat } from './py-float.js'

/**
 * How a mapping interpolated into `cmd` becomes arguments: DVC's `[parsing]`
 * section of `.dvc/config` (`bool = store_true | boolean_optional`,
 * `list = nargs | append`).
 */
export interface ParsingConfig {
  bool: 'store_true' | 'boolean_optional'
  list: 'nargs' | 'append'
}

/** DVC's defaults when `.dvc/config` says nothing. */
export const DEFAULT_PARSING: ParsingConfig = { bool: 'store_true', list: 'nargs' }

/**
 * A number as Python's `str()` writes it, which is what DVC puts into a
 * command: an integral number as an int (`1`, all digits), any other as a
 * float ({@link pyFloat}). A YAML float with an integral value (`1.0`)
 * reaches the templating context as a {@link PyFloat}, not as a number, and
 * is written `1.0` by {@link renderScalar}.
 */
export function pyNumber (n: number): string {
  if (Number.isInteger(n)) return BigInt(n).toString()
  return pyFloat(n)
}

/** Quotes `s` for a POSIX shell when it needs it (as Python's `shlex.quote`). */
export function shellQuote (s: string): string {
  if (s === '') return "''"
  if (/^[\w@%+=:,./-]+$/.test(s)) return s
  return `'${s.replace(/'/g, "'\"'\"'")}'`
}

/** A primitive as DVC renders it inside a string: booleans lower case, null as `None`, numbers (ints and {@link PyFloat}s) as Python. */
export function renderScalar (value: unknown): string {
  if (typeof value === 'boolean') return value ? 'true' : 'false'
  if (value == null) return 'None'
  if (typeof value === 'number') return pyNumber(value)
  if (value instanceof PyFloat) return pyFloat(value.valueOf())
  return String(value)
}

function flattenArgs (value: Record<string, unknown>, prefix: string, out: Array<[string, unknown]>): void {
  for (const [k, v] of Object.entries(value)) {
    const key = prefix === '' ? k : `${prefix}.${k}`
    if (isComposite(v) && !Array.isArray(v)) flattenArgs(v as Record<string, unknown>, key, out)
    else out.push([key, v])
  }
}

/**
 * A mapping interpolated into `cmd`, as DVC renders it: `--key value` per
 * leaf (nested keys joined with dots), strings shell-quoted, `true` as a bare
 * `--key`, `false` omitted or `--no-key`, lists as `--key a b` or
 * `--key a --key b` per `parsing`.
 */
export function renderArgs (value: Record<string, unknown>, parsing: ParsingConfig, where: string): string {
  const leaves: Array<[string, unknown]> = []
  flattenArgs(value, '', leaves)
  const parts: string[] = []
  for (const [k, v] of leaves) {
    if (typeof v === 'boolean') {
      if (v) parts.push(`--${k}`)
      else if (parsing.bool === 'boolean_optional') parts.push(`--no-${k}`)
    } else if (Array.isArray(v)) {
      const items = v.map((i) => {
        if (isComposite(i)) throw new PipelineError(`${where}: cannot interpolate a nested list or mapping in '${k}'`)
        // Python's f-string, not DVC's own rendering: True, not true
        if (typeof i === 'boolean') return i ? 'True' : 'False'
        return typeof i === 'string' ? shellQuote(i) : renderScalar(i)
      })
      if (parsing.list === 'append') for (const i of items) parts.push(`--${k} ${i}`)
      else if (items.length > 0) parts.push(`--${k} ${items.join(' ')}`)
    } else {
      parts.push(`--${k} ${typeof v === 'string' ? shellQuote(v) : renderScalar(v)}`)
    }
  }
  return parts.join(' ')
}
