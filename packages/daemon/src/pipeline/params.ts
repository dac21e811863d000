import { join } from 'node:path'
import { PipelineError } from './errors.js'
import { readParamsFile } from './schema.js'
import type { ParamRef, Stage } from './schema.js'

/** The value at a dotted key (`train.lr`). */
export function paramValue (values: Record<string, unknown>, key: string): unknown {
  let v: unknown = values
  for (const part of key.split('.')) {
    if (v == null || typeof v !== 'object' || !(part in (v as Record<string, unknown>))) return undefined
    v = (v as Record<string, unknown>)[part]
  }
  return v
}

/** Current values of a stage's params: file → key → value. A missing key is an error naming it. */
export function stageParams (root: string, stage: Stage): Record<string, Record<string, unknown>> {
  const out: Record<string, Record<string, unknown>> = {}
  for (const ref of stage.params) out[ref.file] = refValues(root, stage, ref)
  return out
}

function refValues (root: string, stage: Stage, ref: ParamRef): Record<string, unknown> {
  const file = join(root, stage.wdir, ref.file)
  const values = readParamsFile(file, root)
  if (ref.keys == null) return values
  const out: Record<string, unknown> = {}
  for (const key of ref.keys) {
    const v = paramValue(values, key)
    if (v === undefined) throw new PipelineError(`stage '${stage.name}': param '${key}' is not in ${ref.file}`)
    out[key] = v
  }
  return out
}
