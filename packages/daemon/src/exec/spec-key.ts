import { join } from 'node:path'
import { paramValue } from '../pipeline/params.js'
import { stageKey } from '../pipeline/runcache.js'
import { readParamsFile } from '../pipeline/schema.js'
import type { JobSpec } from './protocol.js'

/**
 * Why the executor will not vouch for `spec.key`, or undefined when it will.
 * The executor signs its result under the stage key and keeps it in its run
 * cache, where teammates who trust it look that key up: so the key must be
 * the one this job's own command, deps, params and outs give (recomputed
 * here), each dep must be an input it materialised with the same content id,
 * and each param value must be what the materialised params file says.
 * Otherwise a peer with `--run` could plant a result of any command under the
 * key of another stage. Call after the inputs are in `work`.
 */
export function specKeyProblem (spec: JobSpec, work: string): string | undefined {
  if (!Array.isArray(spec.deps) || spec.params == null || typeof spec.params !== 'object') return 'the job names no deps and params to check its stage key against (a requester older than this executor)'
  const inputs = new Map(spec.inputs.map((i) => [i.path, i.cid]))
  const stray = spec.deps.find((d) => inputs.get(d.path) !== d.cid)
  if (stray != null) return `dep '${stray.path}' is not an input of the job with that content id`
  for (const [file, values] of Object.entries(spec.params)) {
    let actual: Record<string, unknown>
    try {
      actual = readParamsFile(join(work, spec.wdir, file))
    } catch (err) {
      return `params file '${file}' does not parse: ${(err as Error).message}`
    }
    for (const [k, v] of Object.entries(values ?? {})) {
      if (JSON.stringify(paramValue(actual, k)) !== JSON.stringify(v)) return `param '${k}' is not what ${file} says`
    }
  }
  const key = stageKey(spec.cmd, spec.deps.map((d) => ({ path: d.path, cid: d.cid, size: 0 })), spec.params, spec.outs.map((o) => o.path))
  return key === spec.key ? undefined : 'the stage key does not match its command, deps, params and outs'
}
