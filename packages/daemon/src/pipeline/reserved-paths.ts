import { PROJECT_DIR } from '../tracking/project.js'

/** File names mlp reads as code or as run records: a pipeline file or its lock, in any folder. */
const RESERVED_NAMES = new Set(['mlp.yaml', 'dvc.yaml', 'mlp.lock', 'dvc.lock'])

/**
 * Why a project-relative path (`/`- or `\`-separated) may never be a
 * tracked output (an `mlp add` target, a stage out, a `fetch -o` target),
 * or undefined. A pipeline file or lock that arrives as data (from a peer,
 * a pull or a run) would otherwise be read as code on the next command, and
 * `.mlp/` holds the project's own state. Names are compared without case:
 * on a case-insensitive disk `MLP.yaml` is the pipeline file.
 */
export function reservedPathProblem (rel: string): string | undefined {
  const parts = rel.split(/[\\/]/).filter((p) => p !== '' && p !== '.')
  const name = parts[parts.length - 1]?.toLowerCase()
  if (name != null && RESERVED_NAMES.has(name)) return `'${rel}' is a pipeline or lock file (${name}): mlp reads those as code, so one is never data`
  if (parts[0] === PROJECT_DIR) return `'${rel}' is inside ${PROJECT_DIR}/, the project's own state`
  return undefined
}
