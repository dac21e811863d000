import { existsSync } from 'node:fs'
import { join, normalize } from 'node:path'
import { PipelineError } from './errors.js'
import type { Stage } from './schema.js'

/** The stage graph: edges run from the stage that writes a path to each stage that reads it. */
export interface StageGraph {
  stages: Stage[]
  /** [from, to] stage names. */
  edges: Array<[string, string]>
  /** Stage names in an order where every stage comes after the stages it depends on. */
  order: string[]
  /** Direct upstream stages of each stage. */
  upstream: Map<string, string[]>
}

/** A path relative to the project root, normalised. */
export function rootPath (stage: Stage, path: string): string {
  return normalize(join(stage.wdir, path)).replace(/\/$/, '')
}

function inside (child: string, parent: string): boolean {
  return child === parent || child.startsWith(parent + '/')
}

/**
 * Builds and checks the graph: two stages writing the same out, an out
 * inside another stage's out, a dep that is nobody's out and does not exist
 * (when `root` is given), and cycles (named in full) are errors.
 */
export function buildGraph (stages: Stage[], file: string, root?: string): StageGraph {
  const outs: Array<{ path: string, stage: Stage }> = []
  for (const s of stages) {
    for (const o of s.outs) {
      const path = rootPath(s, o.path)
      for (const other of outs) {
        if (other.path === path) throw new PipelineError(`${file}:${s.line}: stage '${s.name}': out '${path}' is also an out of stage '${other.stage.name}'`)
        if (inside(path, other.path) || inside(other.path, path)) {
          throw new PipelineError(`${file}:${s.line}: stage '${s.name}': out '${path}' overlaps out '${other.path}' of stage '${other.stage.name}'`)
        }
      }
      outs.push({ path, stage: s })
    }
  }
  const edges: Array<[string, string]> = []
  const upstream = new Map<string, string[]>(stages.map((s) => [s.name, []]))
  for (const s of stages) {
    for (const d of s.deps) {
      const path = rootPath(s, d)
      const producers = outs.filter((o) => inside(path, o.path) || inside(o.path, path))
      if (producers.length === 0 && root != null && !existsSync(join(root, path))) {
        throw new PipelineError(`${file}:${s.line}: stage '${s.name}': dep '${path}' does not exist and no stage writes it`)
      }
      for (const p of producers) {
        if (p.stage.name === s.name) throw new PipelineError(`${file}:${s.line}: stage '${s.name}' depends on its own out '${p.path}'`)
        if (!edges.some(([a, b]) => a === p.stage.name && b === s.name)) {
          edges.push([p.stage.name, s.name])
          upstream.get(s.name)?.push(p.stage.name)
        }
      }
    }
  }
  return { stages, edges, order: topoOrder(stages, upstream, file), upstream }
}

function topoOrder (stages: Stage[], upstream: Map<string, string[]>, file: string): string[] {
  const state = new Map<string, 'visiting' | 'done'>()
  const order: string[] = []
  const visit = (name: string, path: string[]): void => {
    const st = state.get(name)
    if (st === 'done') return
    if (st === 'visiting') {
      const cycle = [...path.slice(path.indexOf(name)), name]
      throw new PipelineError(`${file}: the pipeline has a cycle: ${cycle.join(' -> ')}`)
    }
    state.set(name, 'visiting')
    for (const up of upstream.get(name) ?? []) visit(up, [...path, name])
    state.set(name, 'done')
    order.push(name)
  }
  for (const s of stages) visit(s.name, [])
  return order
}

/** The named stages and everything upstream of them (or downstream, with `downstream`). */
export function selectStages (graph: StageGraph, targets: string[], downstream: boolean): Set<string> {
  const names = new Set<string>()
  const byGroup = (t: string): string[] => graph.stages.filter((s) => s.name === t || s.name.startsWith(`${t}@`)).map((s) => s.name)
  const next = (n: string): string[] => downstream ? graph.edges.filter(([a]) => a === n).map(([, b]) => b) : graph.upstream.get(n) ?? []
  const stack: string[] = []
  for (const t of targets) {
    const found = byGroup(t)
    if (found.length === 0) throw new PipelineError(`no stage named '${t}' (see \`mlp dag\`)`)
    stack.push(...found)
  }
  while (stack.length > 0) {
    const n = stack.pop() as string
    if (names.has(n)) continue
    names.add(n)
    stack.push(...next(n))
  }
  return names
}
