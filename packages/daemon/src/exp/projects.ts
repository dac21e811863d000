import type { Store } from '../store/index.js'
import { findProjectId } from '../tracking/project-id.js'

/**
 * The ids of the projects this machine knows: those of the registered
 * projects (the gc roots registry, filled by `mlp init`, `mlp add`,
 * `mlp exp show` and the like) whose `.mlp/config.yaml` has one. A
 * teammate's records for any other id are kept only within a small budget
 * (exp/records.ts): they cannot be for anything a person here looks at yet.
 */
export async function knownProjectIds (store: Store): Promise<Set<string>> {
  const ids = new Set<string>()
  for await (const root of store.index.projects.keys()) {
    const id = findProjectId(root)
    if (id != null) ids.add(id)
  }
  return ids
}
