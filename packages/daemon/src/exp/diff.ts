import type { ValueDiff } from '@mlp/proto'
import { metricFiles } from '../pipeline/read-only.js'
import { workspaceValues } from '../pipeline/values.js'
import { requireProjectId } from '../tracking/project-id.js'
import { findProject } from '../tracking/project.js'
import { findExperiment, type ExpComponents } from './context.js'

/** An experiment's (or the workspace's) params and metrics, by `file\0key`. */
type Values = Map<string, unknown>

const id = (file: string, key: string): string => `${file}\0${key}`

/**
 * `mlp exp diff <a> [<b>]`: the params and metrics whose values differ,
 * `old` from `a`, `new` from `b` or, without `b`, from the workspace (as
 * `dvc exp diff`). A param `a` did not change has its base value.
 */
export function diffExperiments (c: ExpComponents, cwd: string, a: string, b?: string): ValueDiff[] {
  const root = findProject(cwd)
  const project = requireProjectId(root)
  const ra = findExperiment(c, project, a)
  const old: Values = new Map()
  for (const p of ra.params) old.set(id(p.file, p.key), p.new)
  for (const m of ra.metrics) old.set(id(m.file, m.key), m.value)
  const now: Values = new Map()
  if (b != null) {
    const rb = findExperiment(c, project, b)
    for (const p of rb.params) now.set(id(p.file, p.key), p.new)
    for (const m of rb.metrics) now.set(id(m.file, m.key), m.value)
    // a param one of them changed and the other did not: the other has the base value
    for (const p of rb.params) if (!old.has(id(p.file, p.key))) old.set(id(p.file, p.key), p.old)
    for (const p of ra.params) if (!now.has(id(p.file, p.key))) now.set(id(p.file, p.key), p.old)
  } else {
    // the workspace's value of each param the experiment changed, and every metric
    for (const f of new Set(ra.params.map((p) => p.file))) {
      const values = workspaceValues(root, f) ?? {}
      for (const p of ra.params.filter((x) => x.file === f)) now.set(id(f, p.key), values[p.key])
    }
    for (const f of metricFiles(root)) for (const [k, v] of Object.entries(workspaceValues(root, f) ?? {})) now.set(id(f, k), v)
  }
  const out: ValueDiff[] = []
  for (const key of [...new Set([...old.keys(), ...now.keys()])].sort()) {
    const [file, k] = key.split('\0')
    const x = old.get(key)
    const y = now.get(key)
    if (JSON.stringify(x) !== JSON.stringify(y)) out.push({ file, key: k, old: x ?? null, new: y ?? null })
  }
  return out
}
