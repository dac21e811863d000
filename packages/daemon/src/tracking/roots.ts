import { existsSync } from 'node:fs'
import { open } from 'node:fs/promises'
import { join } from 'node:path'
import { GcRootsError } from '@mlp/proto'
import { CID } from 'multiformats/cid'
import type { Logger } from '../logger.js'
import type { Store } from '../store/index.js'
import type { RootQuery, RootSource, SourceRoots } from '../store/root-sources.js'
import { candidateLockFiles } from '../pipeline/collect.js'
import { findPointers } from './discover.js'
import { LOCK_FILE, MAX_GIT_LOCK_BYTES, gitRoots, lockCids } from './git-roots.js'
import { readPointer } from './pointers.js'
import { PROJECT_DIR } from './project.js'

/** The name of tracking's gc root source. */
export const PROJECTS_SOURCE = 'projects'

/** Records a project so its tracked outputs count as gc roots. */
export async function registerProject (store: Store, root: string): Promise<void> {
  await store.index.projects.put(root, { root, registeredAt: new Date().toISOString() })
}

/** The outs of the workspace's pointer files and of its lock file's stages. */
async function workspaceRoots (root: string, signal?: AbortSignal): Promise<{ pointers: CID[], locks: CID[] }> {
  const pointers: CID[] = []
  for (const pointer of await findPointers(root, signal)) {
    for (const o of (await readPointer(pointer)).outs) pointers.push(CID.parse(o.cid))
  }
  // the lock beside every pipeline file (one per folder, as DVC keeps a
  // dvc.lock beside each dvc.yaml), and the root's even with no pipeline file
  // left: an extra root is safe, a missed one loses a stage's outputs
  const lockFiles = [...new Set([join(root, LOCK_FILE), ...candidateLockFiles(root)])].filter((f) => existsSync(f))
  const locks: CID[] = []
  for (const lockFile of lockFiles) {
    signal?.throwIfAborted()
    const fh = await open(lockFile, 'r')
    let text: string
    try {
      const st = await fh.stat()
      if (!st.isFile() || st.size > MAX_GIT_LOCK_BYTES) throw new GcRootsError(`${lockFile} is not a regular file of at most ${MAX_GIT_LOCK_BYTES} bytes: nothing was removed`)
      text = (await fh.readFile()).subarray(0, MAX_GIT_LOCK_BYTES).toString('utf8')
    } finally {
      await fh.close()
    }
    locks.push(...lockCids(text, lockFile))
  }
  return { pointers, locks }
}

/**
 * The tracked outputs (pointer files and lock-file stage outs) of every
 * registered project's workspace and, per `query.scope`, of its branches and
 * tags or of every commit. A project whose folder is missing (renamed, an
 * unmounted disk) is never a reason to delete: the roots recorded the last
 * time it was read are used until `mlp gc --forget`. Any file that cannot be
 * read throws, which stops gc rather than letting it free what that file
 * may reference. Lock-file outs are optional roots: one with `cache: false`
 * has an id but no blocks.
 */
export async function projectRoots (store: Store, log: Logger, query: RootQuery): Promise<SourceRoots> {
  const roots: CID[] = []
  const optional: CID[] = []
  const missing: string[] = []
  let read = 0
  for await (const root of store.index.projects.keys()) {
    query.signal?.throwIfAborted()
    if (query.forget?.has(root) === true) continue
    read++
    if (!existsSync(join(root, PROJECT_DIR))) {
      const last = await store.index.recordedRoots.get(root)
      log.warn('project folder missing: keeping its last recorded roots (mlp gc --forget drops it)', { root, roots: last?.roots.length ?? 0, at: last?.at })
      missing.push(root)
      for (const c of last?.roots ?? []) roots.push(CID.parse(c))
      continue
    }
    const ws = await workspaceRoots(root, query.signal)
    const history = await gitRoots(root, query.scope, query.signal)
    // one by one: a spread of every commit's outs could pass the engine's argument limit
    for (const cid of ws.pointers) roots.push(cid)
    for (const cid of [ws.locks, history].flat()) optional.push(cid)
    if (query.record) {
      const all = [...new Set([...ws.pointers, ...ws.locks, ...history].map(String))]
      await store.index.recordedRoots.put(root, { roots: all, scope: query.scope, at: new Date().toISOString() })
    }
  }
  return { roots, optional, read, missing }
}

/**
 * Tracking's gc root source ({@link projectRoots}); the daemon registers it
 * with `store.roots.register(projectRootSource(store, log))`.
 */
export function projectRootSource (store: Store, log: Logger): RootSource {
  return { name: PROJECTS_SOURCE, roots: async (query) => await projectRoots(store, log, query) }
}

/** Drops a registered project and its recorded roots (`mlp gc --forget`). */
export async function forgetProject (store: Store, root: string): Promise<void> {
  await store.index.projects.del(root)
  await store.index.recordedRoots.del(root)
}

/**
 * The roots `mlp verify` checks: the workspaces' tracked outputs and pins,
 * and recorded roots of missing projects. A lock-file out whose root block
 * is absent is left out: an out with `cache: false` is recorded in the lock
 * but never stored.
 */
export async function collectRoots (store: Store, log: Logger, signal?: AbortSignal): Promise<CID[]> {
  const found = await projectRoots(store, log, { scope: 'workspace', record: false, signal })
  const keys = new Map<string, CID>()
  for (const cid of [...found.roots, ...await store.pins.cids(signal)]) keys.set(cid.toString(), cid)
  const optional = (found.optional ?? []).filter((cid) => !keys.has(cid.toString()))
  const present = await store.blockstore.hasMany(optional)
  for (const [i, cid] of optional.entries()) if (present[i]) keys.set(cid.toString(), cid)
  return [...keys.values()]
}
