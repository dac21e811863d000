import { PipelineError } from './errors.js'

/** Values visible to `${...}`: params.yaml, vars, and `item`/`key` inside foreach and matrix. */
export type Context = Record<string, unknown>

const WHOLE = /^\$\{\s*([^}]+?)\s*\}$/
const ANY = /\$\{\s*([^}]+?)\s*\}/g

/** Looks up a dotted path (`train.lr`, `item.0`) in the context. */
export function lookup (ctx: Context, path: string, where: string): unknown {
  let value: unknown = ctx
  for (const part of path.split('.')) {
    if (value != null && typeof value === 'object' && part in (value as Record<string, unknown>)) {
      value = (value as Record<string, unknown>)[part]
    } else {
      throw new PipelineError(`${where}: '\${${path}}' is not defined (define it in params.yaml or vars)`)
    }
  }
  return value
}

/** A value's string form in an interpolated string, as DVC writes it (booleans lower case). */
export function toStr (value: unknown): string {
  if (typeof value === 'boolean') return value ? 'true' : 'false'
  return String(value)
}

/**
 * Interpolates `${...}` in every string of `value`. A string that is exactly
 * one `${x}` takes x's value with its type (so `foreach: ${models}` gets the
 * list); inside a longer string only numbers, strings and booleans may appear.
 */
export function interpolate (value: unknown, ctx: Context, where: string): unknown {
  if (typeof value === 'string') {
    const whole = WHOLE.exec(value)
    if (whole != null) return lookup(ctx, whole[1], where)
    return value.replace(ANY, (_, path: string) => {
      const v = lookup(ctx, path, where)
      if (v != null && typeof v === 'object') throw new PipelineError(`${where}: '\${${path}}' is a ${Array.isArray(v) ? 'list' : 'mapping'} and cannot be part of a string`)
      return toStr(v)
    })
  }
  if (Array.isArray(value)) return value.map((v) => interpolate(v, ctx, where))
  if (value != null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value as Record<string, unknown>).map(([k, v]) => [k, interpolate(v, ctx, where)]))
  }
  return value
}
