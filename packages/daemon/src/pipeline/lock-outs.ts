import { join } from 'node:path'
import { CID } from 'multiformats/cid'
import type { TrackedOut } from '../tracking/targets.js'
import { rootPath } from './graph.js'
import { readLock } from './lock.js'
import { loadProjectPipeline } from './project-pipeline.js'

/**
 * The tracked outputs the lock files record: the cached outs (`cache: false`
 * ones live in git) of every stage the pipeline files still declare, each
 * from the lock beside its file. None without a pipeline. readLock has
 * checked every path is a plain relative path.
 */
export function stageOutputs (root: string): TrackedOut[] {
  const pipeline = loadProjectPipeline(root)
  if (pipeline == null) return []
  const out: TrackedOut[] = []
  for (const unit of pipeline.units) {
    const lock = readLock(unit.lockFile)
    for (const stage of unit.pipeline.stages) {
      const local = pipeline.unitOf.get(stage.name)?.local ?? stage.name
      for (const o of lock.stages[local]?.outs ?? []) {
        const declared = stage.outs.find((d) => rootPath(stage, d.path) === o.path)
        if (declared?.cache === true) out.push({ abs: join(root, o.path), cid: CID.parse(o.cid), source: unit.lockFile, stage: stage.name })
      }
    }
  }
  return out
}
