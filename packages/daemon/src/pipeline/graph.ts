import { existsSync } from 'node:fs'
import { join, normalize } from 'node:path'
import { PipelineError } from './errors.js'
import { reservedPathProblem } from './reserved-paths.js'
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
  /** With `collectMissing`: each stage's deps that do not exist and that no stage writes. */
  missing: Map<string, string[]>
}

/** A path relative to the project root, normalised. */
export function rootPath (stage: Stage, path: string): string {
  return normalize(join(stage.wdir, path)).replace(/\/$/, '')
}

/** Proper ancestors of a normalised relative path: `a`, `a/b` for `a/b/c`. */
function ancestors (path: string): string[] {
  const out: string[] = []
  for (let i = path.indexOf('/'); i !== -1; i = path.indexOf('/', i + 1)) out.push(path.slice(0, i))
  return out
}

/** An out and the order it was declared in (producers are reported in that order). */
interface OutEntry { path: string, stage: Stage, index: number }

/**
 * The outs of a pipeline, indexed by path and by every ancestor of a path,
 * so overlap and producer checks cost the depth of a path, not the number of
 * outs: a pipeline may have 10,000 stages.
 */
class OutIndex {
  private readonly byPath = new Map<string, OutEntry>()
  /** Ancestor directory → the outs below it. */
  private readonly below = new Map<string, OutEntry[]>()

  /** An out that `path` would equal or overlap, with which. */
  clash (path: string): { kind: 'same' | 'overlap', other: OutEntry } | undefined {
    const same = this.byPath.get(path)
    if (same != null) return { kind: 'same', other: same }
    for (const a of ancestors(path)) {
      const other = this.byPath.get(a)
      if (other != null) return { kind: 'overlap', other }
    }
    const under = this.below.get(path)
    return under == null ? undefined : { kind: 'overlap', other: under[0] }
  }

  add (entry: OutEntry): void {
    this.byPath.set(entry.path, entry)
    for (const a of ancestors(entry.path)) {
      const list = this.below.get(a) ?? []
      list.push(entry)
      this.below.set(a, list)
    }
  }

  /** Outs a dep at `path` reads: the out itself, an out above it, or outs inside it; in declaration order. */
  producers (path: string): OutEntry[] {
    const found: OutEntry[] = []
    for (const p of [...ancestors(path), path]) {
      const e = this.byPath.get(p)
      if (e != null) found.push(e)
    }
    found.push(...(this.below.get(path) ?? []))
    return found.sort((a, b) => a.index - b.index)
  }
}

/**
 * Builds and checks the graph: two stages writing the same out, an out
 * inside another stage's out, a dep that is nobody's out and does not exist
 * (when `root` is given), and cycles (named in full) are errors. Near linear
 * in the number of stages. With `collectMissing` (`repro --dry`) a missing
 * dep is recorded in `missing` instead, so every stage can still be listed.
 */
export function buildGraph (stages: Stage[], file: string, root?: string, collectMissing = false): StageGraph {
  const outs = new OutIndex()
  // several pipeline files: each error names the file of the stage it is about, and of the other stage when that differs
  const at = (s: Stage): string => `${s.file ?? file}:${s.line}`
  const other = (s: Stage, o: Stage): string => o.file != null && o.file !== s.file ? `'${o.name}' (${o.file}:${o.line})` : `'${o.name}'`
  let index = 0
  for (const s of stages) {
    for (const o of s.outs) {
      const path = rootPath(s, o.path)
      // a pipeline file written by a run would be read as code by the next command
      const reserved = reservedPathProblem(path)
      if (reserved != null) throw new PipelineError(`${at(s)}: stage '${s.name}': out ${reserved}`)
      const clash = outs.clash(path)
      if (clash?.kind === 'same') throw new PipelineError(`${at(s)}: stage '${s.name}': out '${path}' is also an out of stage ${other(s, clash.other.stage)}`)
      if (clash != null) throw new PipelineError(`${at(s)}: stage '${s.name}': out '${path}' overlaps out '${clash.other.path}' of stage ${other(s, clash.other.stage)}`)
      outs.add({ path, stage: s, index: index++ })
    }
  }
  const edges: Array<[string, string]> = []
  const edgeSet = new Set<string>()
  const upstream = new Map<string, string[]>(stages.map((s) => [s.name, []]))
  const missing = new Map<string, string[]>()
  for (const s of stages) {
    for (const d of s.deps) {
      const path = rootPath(s, d)
      const producers = outs.producers(path)
      if (producers.length === 0 && root != null && !existsSync(join(root, path))) {
        if (collectMissing) {
          missing.set(s.name, [...(missing.get(s.name) ?? []), path])
          continue
        }
        throw new PipelineError(`${at(s)}: stage '${s.name}': dep '${path}' does not exist and no stage writes it`)
      }
      for (const p of producers) {
        if (p.stage.name === s.name) throw new PipelineError(`${at(s)}: stage '${s.name}' depends on its own out '${p.path}'`)
        const key = `${p.stage.name}\0${s.name}`
        if (!edgeSet.has(key)) {
          edgeSet.add(key)
          edges.push([p.stage.name, s.name])
          upstream.get(s.name)?.push(p.stage.name)
        }
      }
    }
  }
  return { stages, edges, order: topoOrder(stages, upstream, file), upstream, missing }
}

/** Depth first, without recursion (a chain of 10,000 stages would overflow the stack). */
function topoOrder (stages: Stage[], upstream: Map<string, string[]>, file: string): string[] {
  const state = new Map<string, 'visiting' | 'done'>()
  const order: string[] = []
  for (const s of stages) {
    if (state.has(s.name)) continue
    // the path from this start: each entry is a stage and how many of its upstream stages were visited
    const path: Array<{ name: string, next: number }> = [{ name: s.name, next: 0 }]
    state.set(s.name, 'visiting')
    while (path.length > 0) {
      const top = path[path.length - 1]
      const ups = upstream.get(top.name) ?? []
      if (top.next === ups.length) {
        state.set(top.name, 'done')
        order.push(top.name)
        path.pop()
        continue
      }
      const up = ups[top.next++]
      const st = state.get(up)
      if (st === 'done') continue
      if (st === 'visiting') {
        const names = path.map((e) => e.name)
        const cycle = [...names.slice(names.indexOf(up)), up]
        throw new PipelineError(`${file}: the pipeline has a cycle: ${cycle.join(' -> ')}`)
      }
      state.set(up, 'visiting')
      path.push({ name: up, next: 0 })
    }
  }
  return order
}

/**
 * The stages a target names, as DVC addresses them: `stage` (or
 * `dvc.yaml:stage`) in the root pipeline file, `sub/dvc.yaml:stage` in
 * another, `sub/dvc.yaml` for all of a file's stages, and a `foreach`
 * group's name for all its items (`stage@item` for one).
 */
export function stagesOf (stages: Stage[], target: string): string[] {
  const t = target.replace(/^\.\//, '')
  const colon = t.lastIndexOf(':')
  const fileOnly = colon < 0 && /(^|\/)(dvc|mlp)\.yaml$/.test(t)
  if (fileOnly) {
    // the root file's stages carry no file in their name
    const inRoot = !t.includes('/')
    return stages.filter((s) => inRoot ? !s.name.includes(':') : s.name.startsWith(`${t}:`)).map((s) => s.name)
  }
  // `dvc.yaml:train` is the root file's `train`
  const name = colon >= 0 && /^(dvc|mlp)\.yaml$/.test(t.slice(0, colon)) ? t.slice(colon + 1) : t
  return stages.filter((s) => s.name === name || s.name.startsWith(`${name}@`)).map((s) => s.name)
}

/**
 * The named stages and everything upstream of them (or downstream, with
 * `downstream`); with `single`, only the named stages (a `foreach` group
 * name still means all its items). Targets are addressed as {@link stagesOf} reads them.
 */
export function selectStages (graph: StageGraph, targets: string[], downstream: boolean, single = false): Set<string> {
  const names = new Set<string>()
  const byGroup = (t: string): string[] => stagesOf(graph.stages, t)
  const down = new Map<string, string[]>()
  if (downstream) {
    for (const [a, b] of graph.edges) {
      const list = down.get(a) ?? []
      list.push(b)
      down.set(a, list)
    }
  }
  const next = (n: string): string[] => (downstream ? down.get(n) : graph.upstream.get(n)) ?? []
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
    if (!single) stack.push(...next(n))
  }
  return names
}
