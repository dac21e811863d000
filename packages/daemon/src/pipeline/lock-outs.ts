import { join } from 'node:path'
import { CID } from 'multiformats/cid'
import type { TrackedOut } from '../tracking/targets.js'
import { rootPath } from './graph.js'
import { lockPathFor, readLock } from './lock.js'
import { loadPipeline, pipelineFile } from './schema.js'

/**
 * The tracked outputs the lock file records: the cached outs (`cache: false`
 * ones live in git) of every stage the pipeline still declares. None without
 * a pipeline. readLock has checked every path is a plain relative path.
 */
export function stageOutputs (root: string): TrackedOut[] {
  const file = pipelineFile(root)
  if (file == null) return []
  const pipeline = loadPipeline(file)
  const lockFile = lockPathFor(file)
  const lock = readLock(lockFile)
  const out: TrackedOut[] = []
  for (const stage of pipeline.stages) {
    for (const o of lock.stages[stage.name]?.outs ?? []) {
      const declared = stage.outs.find((d) => rootPath(stage, d.path) === o.path)
      if (declared?.cache === true) out.push({ abs: join(root, o.path), cid: CID.parse(o.cid), source: lockFile, stage: stage.name })
    }
  }
  return out
}
