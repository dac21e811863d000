import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { CID } from 'multiformats/cid'
import type { Store } from '../store/index.js'
import { markReachable } from '../store/gc.js'
import { workspaceIds } from '../tracking/status.js'
import type { LockedPath, LockEntry } from './lock.js'
import { checkInsideProject } from './contained.js'
import { stageParams } from './params.js'
import { rootPath } from './graph.js'
import { stageKey } from './runcache.js'
import type { Stage } from './schema.js'

/** A stage's inputs as they are now, and whether it must run. */
export interface StageState {
  deps: LockedPath[]
  params: Record<string, Record<string, unknown>>
  key: string
  /** Why it is not up to date; empty when it is. */
  reasons: string[]
}

/** The id and size of a workspace path (file or directory), via the stat cache. */
async function describe (store: Store, abs: string, path: string, signal?: AbortSignal): Promise<LockedPath> {
  const r = await store.importer.import(abs, path.split('/').pop() as string, { store: false, signal })
  return { path, cid: r.link.cid.toString(), size: r.size, ...(r.kind === 'dir' ? { nfiles: r.nfiles } : {}) }
}

/**
 * The absolute path of a stage's dep, out or params file (`path` relative to
 * the project `root`), refused in one line when a symlink on the way (a
 * committed `secrets -> ~/.ssh`) takes it outside the project: such a file
 * would be read, hashed and maybe shipped to a peer's job. Symlinks that
 * stay inside the project are followed as before.
 */
export function projectPath (root: string, path: string, label: string): string {
  checkInsideProject(root, path, label)
  return join(root, path)
}

/** Records a workspace path (relative to the project `root`) in the store: outs after a run, inputs of a remote job. */
export async function storePath (store: Store, root: string, path: string, cache: boolean, signal?: AbortSignal): Promise<LockedPath> {
  const abs = projectPath(root, path, 'path')
  const r = await store.importer.import(abs, path.split('/').pop() as string, { store: cache, signal })
  return { path, cid: r.link.cid.toString(), size: r.size, ...(r.kind === 'dir' ? { nfiles: r.nfiles } : {}) }
}

/**
 * Compares a stage with its lock entry: cmd, deps' content ids, param values,
 * and outs (present in the workspace with the recorded ids, and in the store).
 * Unchanged files cost a stat each: the stat cache vouches for them.
 */
export async function stageState (store: Store, root: string, stage: Stage, lock: LockEntry | undefined, signal?: AbortSignal): Promise<StageState> {
  const deps: LockedPath[] = []
  const reasons: string[] = []
  for (const d of stage.deps) {
    const path = rootPath(stage, d)
    const abs = projectPath(root, path, `stage '${stage.name}': dep`)
    if (!existsSync(abs)) {
      reasons.push(`dep missing: ${path}`)
      continue
    }
    deps.push(await describe(store, abs, path, signal))
  }
  for (const p of stage.params) projectPath(root, rootPath(stage, p.file), `stage '${stage.name}': params file`)
  for (const o of stage.outs) projectPath(root, rootPath(stage, o.path), `stage '${stage.name}': out`)
  const params = stageParams(root, stage)
  const key = stageKey(stage.cmd, deps, params, stage.outs.map((o) => rootPath(stage, o.path)))
  if (lock == null) return { deps, params, key, reasons: ['never ran', ...reasons] }
  const lockedCmd = Array.isArray(lock.cmd) ? lock.cmd : [lock.cmd]
  if (JSON.stringify(lockedCmd) !== JSON.stringify(stage.cmd)) reasons.push('cmd changed')
  for (const d of deps) {
    const was = lock.deps.find((x) => x.path === d.path)
    if (was == null) reasons.push(`new dep: ${d.path}`)
    else if (was.cid !== d.cid) reasons.push(`dep changed: ${d.path}`)
  }
  for (const was of lock.deps) if (!deps.some((d) => d.path === was.path) && !reasons.includes(`dep missing: ${was.path}`)) reasons.push(`dep removed: ${was.path}`)
  for (const [file, values] of Object.entries(params)) {
    for (const [k, v] of Object.entries(values)) {
      if (JSON.stringify(lock.params[file]?.[k]) !== JSON.stringify(v)) reasons.push(`param changed: ${k}`)
    }
  }
  for (const o of stage.outs) {
    const path = rootPath(stage, o.path)
    const was = lock.outs.find((x) => x.path === path)
    const abs = join(root, path)
    if (was == null) {
      reasons.push(`new out: ${path}`)
      continue
    }
    if (!existsSync(abs)) {
      reasons.push(`out missing: ${path}`)
      continue
    }
    const now = (await workspaceIds(store, abs, signal)).cid
    if (now !== was.cid) reasons.push(`out changed: ${path}`)
    // the root is enough here: blocks are committed before the root that links them
    else if (o.cache && !(await store.blockstore.has(CID.parse(was.cid)))) reasons.push(`out not in store: ${path}`)
  }
  if (stage.alwaysChanged) reasons.push('always_changed')
  return { deps, params, key, reasons }
}

/** True when every block of the DAG is in the store. */
export async function complete (store: Store, cid: string): Promise<boolean> {
  const missing: CID[] = []
  await markReachable(store.blockstore, [CID.parse(cid)], missing, true)
  return missing.length === 0
}
