import { rootPath } from './graph.js'
import { loadPipeline, pipelineFile } from './schema.js'

/**
 * The outs of every stage of the project's pipeline file, project-relative
 * with `/`, and the stage each belongs to: `mlp add` refuses them, since
 * `mlp repro` stores them and mlp.lock records them. Empty without a
 * pipeline file.
 */
export function stageOutPaths (root: string): Map<string, string> {
  const file = pipelineFile(root)
  const out = new Map<string, string>()
  if (file == null) return out
  for (const stage of loadPipeline(file).stages) {
    for (const o of stage.outs) out.set(rootPath(stage, o.path).split('\\').join('/'), stage.name)
  }
  return out
}
