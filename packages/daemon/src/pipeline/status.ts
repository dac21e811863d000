import type { Store } from '../store/index.js'
import { buildGraph } from './graph.js'
import { lockPathFor, readLock } from './lock.js'
import { loadPipeline, pipelineFile } from './schema.js'
import { stageState } from './state.js'

/** Stages of the project's pipeline that are not up to date, with why; none without a pipeline. */
export async function pipelineStatus (store: Store, root: string, signal?: AbortSignal): Promise<Array<{ stage: string, reasons: string[] }>> {
  const file = pipelineFile(root)
  if (file == null) return []
  const pipeline = loadPipeline(file)
  const graph = buildGraph(pipeline.stages, file)
  const lock = readLock(lockPathFor(file))
  const out: Array<{ stage: string, reasons: string[] }> = []
  for (const name of graph.order) {
    const stage = pipeline.stages.find((s) => s.name === name)
    if (stage == null || stage.frozen) continue
    const state = await stageState(store, root, stage, lock.stages[name], signal)
    if (state.reasons.length > 0) out.push({ stage: name, reasons: state.reasons })
  }
  return out
}
