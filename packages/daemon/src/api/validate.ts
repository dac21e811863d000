import { BadRequestError } from '@mlp/proto'

/** Checks of request bodies: the CLI sends the right shapes, but anything can reach the socket. */

export function cwdOf (body: { cwd?: unknown }): string {
  if (typeof body.cwd !== 'string' || !body.cwd.startsWith('/')) throw new BadRequestError("'cwd' must be an absolute path")
  return body.cwd
}

export function stringList (value: unknown, key: string): string[] | undefined {
  if (value == null) return undefined
  if (!Array.isArray(value) || !value.every((v) => typeof v === 'string')) throw new BadRequestError(`'${key}' must be a list of strings`)
  return value
}

export function optionalString (value: unknown, key: string): string | undefined {
  if (value == null) return undefined
  if (typeof value !== 'string' || value === '') throw new BadRequestError(`'${key}' must be a non-empty string`)
  return value
}

export function requiredString (value: unknown, key: string): string {
  const s = optionalString(value, key)
  if (s == null) throw new BadRequestError(`'${key}' is required`)
  return s
}

export function optionalBoolean (value: unknown, key: string): boolean | undefined {
  if (value == null) return undefined
  if (typeof value !== 'boolean') throw new BadRequestError(`'${key}' must be true or false`)
  return value
}

export function optionalCount (value: unknown, key: string): number | undefined {
  if (value == null) return undefined
  if (!Number.isSafeInteger(value) || (value as number) < 0) throw new BadRequestError(`'${key}' must be a whole number`)
  return value as number
}
