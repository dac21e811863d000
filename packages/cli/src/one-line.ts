import type { ErrorJSON } from '@mlp/proto'

/**
 * The one line an error is reported with. oclif's parse errors span several
 * lines whose first is only a header ("Missing 1 required arg:", "Parsing
 * --jobs", "The following error occurred:"): the header alone says nothing,
 * so the line after it is joined on. Returns undefined for an empty message.
 */
export function oneLineMessage (err: Error & { args?: unknown }): string | undefined {
  const missing = missingArgs(err)
  if (missing != null) return missing
  const lines = String(err.message ?? err).split('\n').map((l) => l.trim()).filter((l) => l !== '' && l !== 'See more help with --help')
  const [first, second] = lines
  if (first == null || second == null) return first
  if (/^The following errors? occurred:$/.test(first)) return second
  if (first.endsWith(':') || /^Parsing --\S+$/.test(first)) return `${first.replace(/:$/, '')}: ${second}`
  return first
}

/** oclif's RequiredArgsError lists the missing args on lines of their own: name them on the first. */
function missingArgs (err: Error & { args?: unknown }): string | undefined {
  if (err.constructor.name !== 'RequiredArgsError' || !Array.isArray(err.args)) return undefined
  const names = (err.args as Array<{ name?: unknown, description?: unknown }>).map((a) => `${String(a.name)}${typeof a.description === 'string' ? ` (${a.description})` : ''}`)
  return `missing ${names.length === 1 ? 'argument' : 'arguments'}: ${names.join(', ')}`
}

/**
 * Writes a failed command's error as every mlp command does: one line on
 * stderr, and an `{error}` document on stdout under `--json`; sets the exit
 * code (2 for a usage error, else 1).
 */
export function writeCommandError (err: Error, json: ErrorJSON, options: { jsonEnabled: boolean, usage: boolean, id?: string }): void {
  if (options.usage) json.name = 'UsageError'
  if (options.jsonEnabled) process.stdout.write(JSON.stringify({ error: json }) + '\n')
  const first = oneLineMessage(err) ?? json.name
  process.stderr.write(`Error: ${first}${options.usage ? ` (see mlp ${(options.id ?? '').replaceAll(':', ' ')} --help)`.replace('  ', ' ') : ''}\n`)
  process.exitCode = options.usage ? 2 : 1
}
