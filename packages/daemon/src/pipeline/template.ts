import { PipelineError } from './errors.js'
import { MAX_INTERPOLATED_BYTES, type ExpansionBudget } from './expansion.js'
import { isComposite } from './py-float.js'
import { DEFAULT_PARSING, renderArgs, renderScalar, type ParsingConfig } from './render.js'

/**
 * Values visible to `${...}`: params.yaml, vars, and `item`/`key` inside
 * foreach and matrix; floats as `PyFloat`s, so `1.0` renders `1.0`.
 */
export type Context = Record<string, unknown>

// `\${` is a literal `${`, as in DVC
const WHOLE = /^\$\{\s*([^}]+?)\s*\}$/
const ANY = /(?<!\\)\$\{\s*([^}]+?)\s*\}/g

/** Options of {@link interpolate}. */
export interface InterpolateOptions {
  /** How mappings in `cmd` become arguments (`.dvc/config` `[parsing]`). */
  parsing?: ParsingConfig
  /** The key whose value this is (`cmd` allows mappings), inherited by list items. */
  key?: string
}

/**
 * Looks up a dotted path (`train.lr`, `item.0`) in the context; brackets
 * mean the same (`layers[0]`, `models[us].lr`), as in DVC.
 */
export function lookup (ctx: Context, path: string, where: string): unknown {
  let value: unknown = ctx
  for (const part of path.replace(/\[/g, '.').replace(/\]/g, '').split('.')) {
    if (isComposite(value) && part in (value as Record<string, unknown>)) {
      value = (value as Record<string, unknown>)[part]
    } else {
      throw new PipelineError(`${where}: '\${${path}}' is not defined (define it in params.yaml or vars)`)
    }
  }
  return value
}

/** A value's string form in an interpolated string or a generated stage name, as DVC writes it. */
export function toStr (value: unknown): string {
  return renderScalar(value)
}

/**
 * Size of a value as interpolation charges it: string lengths, 8 per other
 * leaf and key. The walk stops once past `limit` (a params mapping can be
 * large; an alias-heavy one shares subtrees).
 */
export function valueSize (value: unknown, limit = MAX_INTERPOLATED_BYTES): number {
  let size = 0
  const stack: unknown[] = [value]
  while (stack.length > 0 && size <= limit) {
    const v = stack.pop()
    if (typeof v === 'string') size += v.length
    else if (isComposite(v)) {
      for (const [k, x] of Object.entries(v as Record<string, unknown>)) {
        size += Array.isArray(v) ? 1 : k.length
        stack.push(x)
      }
    } else size += 8
  }
  return size
}

/**
 * Interpolates `${...}` in every string of `value`. A string that is exactly
 * one `${x}` takes x's value with its type (so `foreach: ${models}` gets the
 * list); inside a longer string only numbers, strings and booleans may appear.
 * With a `budget`, each result is charged to it before it is built (its size
 * is the sum of its pieces), so a params value repeated many times is refused
 * in one line instead of exhausting memory.
 */
export function interpolate (value: unknown, ctx: Context, where: string, budget?: ExpansionBudget, options: InterpolateOptions = {}): unknown {
  if (typeof value === 'string') {
    const whole = WHOLE.exec(value)
    if (whole != null) {
      const v = lookup(ctx, whole[1], where)
      budget?.addInterpolated(where, valueSize(v), `'\${${whole[1]}}'`)
      return v
    }
    const pieces: string[] = []
    let size = 0
    let last = 0
    let biggest = { path: '', size: -1 }
    for (const m of value.matchAll(ANY)) {
      const v = lookup(ctx, m[1], where)
      let text: string
      if (isComposite(v)) {
        // DVC: a mapping in a command becomes `--key value` arguments; nothing else may hold one
        if (options.key !== 'cmd' || Array.isArray(v)) throw new PipelineError(`${where}: '\${${m[1]}}' is a ${Array.isArray(v) ? 'list' : 'mapping'} and cannot be part of a string${Array.isArray(v) ? '' : ' (only of cmd)'}`)
        budget?.addInterpolated(where, valueSize(v) * 2, `'\${${m[1]}}'`)
        text = renderArgs(v as Record<string, unknown>, options.parsing ?? DEFAULT_PARSING, where)
      } else {
        text = toStr(v)
      }
      pieces.push(value.slice(last, m.index), text)
      size += m.index - last + text.length
      last = m.index + m[0].length
      if (text.length > biggest.size) biggest = { path: m[1], size: text.length }
    }
    if (pieces.length === 0) return unescape(value)
    pieces.push(value.slice(last))
    size += value.length - last
    // checked before the pieces are joined: the string is never built when too large
    budget?.addInterpolated(where, size, `a string using '\${${biggest.path}}'`)
    return unescape(pieces.join(''))
  }
  if (Array.isArray(value)) return value.map((v) => interpolate(v, ctx, where, budget, options))
  if (isComposite(value)) {
    const out: Record<string, unknown> = {}
    for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
      // keys too: `- ${item}/metrics.json: {cache: false}` is DVC's own documented form
      const key = interpolateKey(k, ctx, where, budget)
      if (Object.hasOwn(out, key)) throw new PipelineError(`${where}: '${k}' interpolates to '${key}', which is already a key here`)
      out[key] = interpolate(v, ctx, where, budget, { ...options, key })
    }
    return out
  }
  return value
}

/** A mapping key after interpolation: always a string, never a list or mapping. */
function interpolateKey (k: string, ctx: Context, where: string, budget?: ExpansionBudget): string {
  if (!k.includes('${')) return k
  const v = interpolate(k, ctx, where, budget)
  if (isComposite(v)) throw new PipelineError(`${where}: key '${k}' is a ${Array.isArray(v) ? 'list' : 'mapping'}; a key must be a string`)
  return typeof v === 'string' ? v : toStr(v)
}

/** `\${` (DVC's escape) becomes a literal `${` once interpolation is done. */
function unescape (s: string): string {
  return s.includes('\\${') ? s.replaceAll('\\${', '${') : s
}
