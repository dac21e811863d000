import { closeSync, constants, fstatSync, lstatSync, openSync, readSync, realpathSync } from 'node:fs'
import { dirname, isAbsolute, join, relative, sep } from 'node:path'
import { parseDocument } from 'yaml'
import { paramValue } from '../pipeline/params.js'
import { stageKey } from '../pipeline/runcache.js'
import type { JobSpec } from './protocol.js'

/** Most bytes of one params file the executor reads (as much as a requester reads of one). */
export const MAX_PARAMS_FILE_BYTES = 4 * 1024 * 1024
/** Most bytes of params files the executor reads for one job, all files together. */
export const MAX_PARAMS_TOTAL_BYTES = 8 * 1024 * 1024

/** A params file the executor will not read; the message goes to the requester as is. */
class ParamsFileError extends Error {}

function within (root: string, path: string): boolean {
  const rel = relative(root, path)
  return rel === '' || (rel !== '..' && !rel.startsWith(`..${sep}`) && !isAbsolute(rel))
}

function errCode (err: unknown): string | undefined {
  return (err as NodeJS.ErrnoException).code
}

/**
 * The real path of `path`, which must resolve inside `work` (symlinks that
 * stay inside are fine), or undefined when nothing is there. One message for
 * every way out (a symlink to outside, to nothing, a loop), so the answer
 * says nothing about what exists outside the job directory.
 */
function resolveInside (work: string, path: string, name: string): string | undefined {
  const refused = new ParamsFileError(`params file '${name}' is not a file inside the job directory: refused`)
  if (!within(work, path)) throw refused
  const root = realpathSync(work)
  let at = path
  let below: string | undefined
  for (;;) {
    let real: string
    try {
      real = realpathSync(at)
    } catch (err) {
      const code = errCode(err)
      if ((code !== 'ENOENT' && code !== 'ENOTDIR') || at === work) throw refused
      below = at
      at = dirname(at)
      continue
    }
    if (!within(root, real)) throw refused
    if (below == null) return real
    // `at` is inside and `below` does not resolve: absent, unless a symlink there leads nowhere (or out)
    try {
      lstatSync(below)
    } catch {
      return undefined
    }
    throw refused
  }
}

/** At most `limit` bytes of the regular file `real`, read into bounded buffers (a /proc file says size 0). */
function readBounded (real: string, name: string, limit: number): string {
  const fd = openSync(real, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK)
  try {
    const st = fstatSync(fd)
    if (!st.isFile()) throw new ParamsFileError(`params file '${name}' is not a regular file: refused`)
    const tooBig = new ParamsFileError(`params file '${name}' is over the ${MAX_PARAMS_FILE_BYTES / 1024 / 1024} MiB the executor reads (${MAX_PARAMS_TOTAL_BYTES / 1024 / 1024} MiB for all of a job's params files): refused`)
    if (st.size > limit) throw tooBig
    const chunks: Buffer[] = []
    let total = 0
    for (;;) {
      const buf = Buffer.allocUnsafe(Math.min(64 * 1024, limit + 1 - total))
      const n = readSync(fd, buf, 0, buf.length, null)
      if (n === 0) break
      total += n
      chunks.push(buf.subarray(0, n))
      if (total > limit) throw tooBig
    }
    return Buffer.concat(chunks, total).toString('utf8')
  } finally {
    closeSync(fd)
  }
}

/** Parsed as `readParamsFile` does on the requester (JSON by extension, else YAML), so both sides see the same values. */
function parseParams (text: string, name: string): Record<string, unknown> {
  let v: unknown
  if (name.endsWith('.json')) {
    try {
      v = JSON.parse(text)
    } catch (err) {
      throw new ParamsFileError(`params file '${name}' does not parse: not valid JSON: ${(err as Error).message}`)
    }
  } else {
    const doc = parseDocument(text, { prettyErrors: false })
    if (doc.errors.length > 0) throw new ParamsFileError(`params file '${name}' does not parse: not valid YAML: ${doc.errors[0].message.split('\n')[0]}`)
    try {
      v = doc.toJS()
    } catch (err) {
      throw new ParamsFileError(`params file '${name}' does not parse: ${(err as Error).message}`)
    }
  }
  if (v == null) return {}
  if (typeof v !== 'object' || Array.isArray(v)) throw new ParamsFileError(`params file '${name}' does not parse: params must be a mapping`)
  return v as Record<string, unknown>
}

/**
 * Why the executor will not vouch for `spec.key`, or undefined when it will.
 * The executor signs its result under the stage key and keeps it in its run
 * cache, where teammates who trust it look that key up: so the key must be
 * the one this job's own command, deps, params and outs give (recomputed
 * here), each dep must be an input it materialised with the same content id,
 * and each param value must be what the materialised params file says.
 * Otherwise a peer with `--run` could plant a result of any command under the
 * key of another stage. Call after the inputs are in `work`.
 *
 * The daemon itself reads the params files, before the job runs: each must
 * resolve inside `work` and be a regular file, and is read in bounded
 * buffers (at most {@link MAX_PARAMS_FILE_BYTES}, and
 * {@link MAX_PARAMS_TOTAL_BYTES} per job), so a symlink in the inputs cannot
 * make it read `/proc/self/pagemap`, a device or another file of the machine.
 */
export function specKeyProblem (spec: JobSpec, work: string): string | undefined {
  if (!Array.isArray(spec.deps) || spec.params == null || typeof spec.params !== 'object') return 'the job names no deps and params to check its stage key against (a requester older than this executor)'
  const inputs = new Map(spec.inputs.map((i) => [i.path, i.cid]))
  const stray = spec.deps.find((d) => inputs.get(d.path) !== d.cid)
  if (stray != null) return `dep '${stray.path}' is not an input of the job with that content id`
  const read = new Map<string, Record<string, unknown>>()
  let budget = MAX_PARAMS_TOTAL_BYTES
  for (const [file, values] of Object.entries(spec.params)) {
    let actual: Record<string, unknown>
    try {
      const real = resolveInside(work, join(work, spec.wdir, file), file)
      if (real == null) actual = {}
      else {
        const known = read.get(real)
        if (known != null) actual = known
        else {
          const text = readBounded(real, file, Math.min(MAX_PARAMS_FILE_BYTES, budget))
          budget -= Buffer.byteLength(text)
          actual = parseParams(text, file)
          read.set(real, actual)
        }
      }
    } catch (err) {
      if (err instanceof ParamsFileError) return err.message
      return `params file '${file}' cannot be read: ${errCode(err) ?? (err as Error).message}`
    }
    for (const [k, v] of Object.entries(values ?? {})) {
      if (JSON.stringify(paramValue(actual, k)) !== JSON.stringify(v)) return `param '${k}' is not what ${file} says`
    }
  }
  const key = stageKey(spec.cmd, spec.deps.map((d) => ({ path: d.path, cid: d.cid, size: 0 })), spec.params, spec.outs.map((o) => o.path))
  return key === spec.key ? undefined : 'the stage key does not match its command, deps, params and outs'
}
