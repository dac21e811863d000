import { rootPath } from './graph.js'
import { loadProjectPipeline } from './project-pipeline.js'

/**
 * The outs of every stage of the project's pipeline files, project-relative
 * with `/`, and the stage each belongs to (its address): `mlp add` refuses
 * them, since `mlp repro` stores them and the lock files record them. Empty
 * without a pipeline file.
 */
export function stageOutPaths (root: string): Map<string, string> {
  const out = new Map<string, string>()
  for (const stage of loadProjectPipeline(root)?.stages ?? []) {
    for (const o of stage.outs) out.set(rootPath(stage, o.path).split('\\').join('/'), stage.name)
  }
  return out
}
