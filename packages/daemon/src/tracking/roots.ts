import { existsSync } from 'node:fs'
import { open } from 'node:fs/promises'
import { join } from 'node:path'
import { GcRootsError, type GcScope } from '@mlp/proto'
import { CID } from 'multiformats/cid'
import type { Logger } from '../logger.js'
import { recentRunCacheRoots } from '../pipeline/runcache.js'
import type { Store } from '../store/index.js'
import { findPointers } from './discover.js'
import { LOCK_FILE, MAX_GIT_LOCK_BYTES, gitRoots, lockCids } from './git-roots.js'
import { readPointer } from './pointers.js'
import { PROJECT_DIR } from './project.js'

/** A project's roots as the last gc that could read its folder found them. */
interface RecordedRoots {
  roots: string[]
  scope: GcScope
  at: string
}

/** Recorded roots per project root, in the store's LevelDB. */
class RootsBook {
  readonly db

  constructor (store: Store) {
    this.db = store.index.db.sublevel<string, RecordedRoots>('pr', { keyEncoding: 'utf8', valueEncoding: 'json' })
  }
}

/** Records a project so its tracked outputs count as gc roots. */
export async function registerProject (store: Store, root: string): Promise<void> {
  await store.index.projects.put(root, { root, registeredAt: new Date().toISOString() })
}

/** Options of {@link collectProjectRoots}. */
export interface RootsOptions {
  /** Which git history counts (default `refs`: every local branch and tag). */
  scope?: GcScope
  /** Registered projects to leave out (`mlp gc --forget`). */
  forget?: Set<string>
  /** Remember each present project's roots, for when its folder goes missing (gc does; dry runs and verify do not). */
  record?: boolean
  /** Outs of run-cache entries stored less than this long ago are roots too (default 0: none). */
  runCacheKeepMs?: number
  signal?: AbortSignal
}

/** Every root, and where they came from. */
export interface CollectedRoots {
  /** Unique roots: tracked outputs of every project (workspace and history), recorded roots of missing projects, pins. */
  roots: CID[]
  /** Roots named only by lock files (stage outs): an out with `cache: false` has an id but no blocks. */
  lockOnly: Set<string>
  /** Registered projects read. */
  projects: number
  /** Registered projects whose folder is missing: their recorded roots were used. */
  missing: string[]
}

/** The outs of the workspace's pointer files and of its lock file's stages. */
async function workspaceRoots (root: string, signal?: AbortSignal): Promise<{ pointers: CID[], locks: CID[] }> {
  const pointers: CID[] = []
  for (const pointer of await findPointers(root, signal)) {
    for (const o of (await readPointer(pointer)).outs) pointers.push(CID.parse(o.cid))
  }
  const lockFile = join(root, LOCK_FILE)
  if (!existsSync(lockFile)) return { pointers, locks: [] }
  const fh = await open(lockFile, 'r')
  let text: string
  try {
    const st = await fh.stat()
    if (!st.isFile() || st.size > MAX_GIT_LOCK_BYTES) throw new GcRootsError(`${lockFile} is not a regular file of at most ${MAX_GIT_LOCK_BYTES} bytes: nothing was removed`)
    text = (await fh.readFile()).subarray(0, MAX_GIT_LOCK_BYTES).toString('utf8')
  } finally {
    await fh.close()
  }
  return { pointers, locks: lockCids(text, lockFile) }
}

/**
 * Every gc root: the tracked outputs (pointer files and lock-file stage outs)
 * of every registered project's workspace and, per `scope`, of its branches
 * and tags or of every commit; plus explicit pins. A project whose folder is
 * missing (renamed, an unmounted disk) is never a reason to delete: the roots
 * recorded the last time it was read are used until `mlp gc --forget`. Any
 * file that cannot be read stops gc rather than letting it free what that
 * file may reference.
 *
 * Run-cache entries stored less than `runCacheKeepMs` ago are roots too
 * (as lock outs: one with `cache: false` has no blocks), so a result just
 * produced or received can be reused for a while after every lock moved on.
 * Older ones need no roots: a local entry is used only after checking that
 * every block of its outs is still in the store.
 */
export async function collectProjectRoots (store: Store, log: Logger, options: RootsOptions = {}): Promise<CollectedRoots> {
  const scope = options.scope ?? 'refs'
  const keys = new Map<string, CID>()
  const fromPointersOrPins = new Set<string>()
  const lockOnly = new Set<string>()
  const missing: string[] = []
  let projects = 0
  const add = (cids: CID[], lock = false): void => {
    for (const cid of cids) {
      const key = cid.toString()
      keys.set(key, cid)
      if (!lock) fromPointersOrPins.add(key)
      else if (!fromPointersOrPins.has(key)) lockOnly.add(key)
    }
  }
  const book = new RootsBook(store).db
  for await (const root of store.index.projects.keys()) {
    options.signal?.throwIfAborted()
    if (options.forget?.has(root) === true) continue
    projects++
    if (!existsSync(join(root, PROJECT_DIR))) {
      const last = await book.get(root)
      log.warn('project folder missing: keeping its last recorded roots (mlp gc --forget drops it)', { root, roots: last?.roots.length ?? 0, at: last?.at })
      missing.push(root)
      add((last?.roots ?? []).map((c) => CID.parse(c)))
      continue
    }
    const ws = await workspaceRoots(root, options.signal)
    const history = await gitRoots(root, scope, options.signal)
    add(ws.pointers)
    add([...ws.locks, ...history], true)
    if (options.record === true) {
      const all = [...new Set([...ws.pointers, ...ws.locks, ...history].map(String))]
      await book.put(root, { roots: all, scope, at: new Date().toISOString() })
    }
  }
  for await (const pin of store.index.pins.values()) add([CID.parse(pin.cid)])
  add(await recentRunCacheRoots(store, options.runCacheKeepMs ?? 0, Date.now(), options.signal), true)
  for (const key of fromPointersOrPins) lockOnly.delete(key)
  return { roots: [...keys.values()], lockOnly, projects, missing }
}

/** Drops a registered project and its recorded roots (`mlp gc --forget`). */
export async function forgetProject (store: Store, root: string): Promise<void> {
  await store.index.projects.del(root)
  await new RootsBook(store).db.del(root)
}

/**
 * The roots `mlp verify` checks: the workspaces' tracked outputs and pins,
 * and recorded roots of missing projects. A lock-file out whose root block
 * is absent is left out: an out with `cache: false` is recorded in the lock
 * but never stored.
 */
export async function collectRoots (store: Store, log: Logger, signal?: AbortSignal): Promise<CID[]> {
  const c = await collectProjectRoots(store, log, { scope: 'workspace', signal })
  const present = await store.blockstore.hasMany(c.roots)
  return c.roots.filter((cid, i) => present[i] || !c.lockOnly.has(cid.toString()))
}
