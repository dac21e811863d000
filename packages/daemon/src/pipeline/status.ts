import type { Store } from '../store/index.js'
import { buildGraph } from './graph.js'
import { readLock } from './lock.js'
import { loadProjectPipeline } from './project-pipeline.js'
import { stageState } from './state.js'

/** Stages of the project's pipeline files that are not up to date, with why (named by DVC's addresses); none without a pipeline. */
export async function pipelineStatus (store: Store, root: string, signal?: AbortSignal): Promise<Array<{ stage: string, reasons: string[] }>> {
  const pipeline = loadProjectPipeline(root)
  if (pipeline == null) return []
  const graph = buildGraph(pipeline.stages, pipeline.file)
  const locks = new Map(pipeline.units.map((u) => [u.lockFile, readLock(u.lockFile)]))
  const out: Array<{ stage: string, reasons: string[] }> = []
  for (const name of graph.order) {
    const stage = pipeline.stages.find((s) => s.name === name)
    if (stage == null || stage.frozen) continue
    const { unit, local } = pipeline.unitOf.get(name) as NonNullable<ReturnType<typeof pipeline.unitOf.get>>
    const state = await stageState(store, root, stage, locks.get(unit.lockFile)?.stages[local], signal)
    if (state.reasons.length > 0) out.push({ stage: name, reasons: state.reasons })
  }
  return out
}
