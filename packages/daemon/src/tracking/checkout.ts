import { lstatSync, type BigIntStats } from 'node:fs'
import { relative } from 'node:path'
import { CID } from 'multiformats/cid'
import { BlockNotFoundError, type CheckoutOut, type CheckoutProgress } from '@mlp/proto'
import type { Store } from '../store/index.js'
import { fsClockAfter } from '../store/fs-clock.js'
import { statEntry } from '../store/importer.js'
import type { StatEntry } from '../store/index-db.js'
import { checkParents, writeTreeInPlace } from './safe-write.js'
import { workspaceIds } from './status.js'
import type { TrackedOut } from './targets.js'

/** Options of {@link checkoutOutputs}. */
export interface CheckoutOptions {
  /** Overwrite (and remove) local edits too: workspace files whose content the store does not know. */
  force?: boolean
  signal?: AbortSignal
  onProgress?: (event: CheckoutProgress) => void
}

function lstatOrNull (path: string): BigIntStats | null {
  try {
    return lstatSync(path, { bigint: true })
  } catch {
    return null
  }
}

/**
 * `mlp checkout` and the checkout half of `mlp pull`: makes the workspace
 * match the tracked outputs (pointer files' and the lock file's alike).
 * Files already right are left alone (known from the stat cache, not
 * rehashed). A file that differs is replaced when the store holds its
 * content (a version mlp wrote or stored earlier: nothing is lost), and
 * files a directory's recorded version no longer lists are removed on the
 * same condition. A file whose content the store does not know is a local
 * edit: kept and reported in `skipped` unless `force`. Each file is written
 * to a temporary name and renamed into place, never through a symlink
 * (tracking/safe-write.ts).
 */
export async function checkoutOutputs (store: Store, root: string, outs: TrackedOut[], options: CheckoutOptions = {}): Promise<CheckoutOut[]> {
  const results: CheckoutOut[] = []
  for (const o of outs) results.push(await checkoutOut(store, root, o.abs, o.cid, options))
  return results
}

/** Checks out one out (a pointer's, or a stage out of `mlp.lock`) at `abs` inside the project `root`. */
export async function checkoutOut (store: Store, root: string, abs: string, cid: CID, options: CheckoutOptions = {}): Promise<CheckoutOut> {
  if (!(await store.blockstore.has(cid))) {
    throw new BlockNotFoundError(`${relative(root, abs)}: ${cid.toString()} is not in the local store: run \`mlp pull\` to fetch it from peers`)
  }
  return await store.lock.read(async () => await checkoutOne(store, root, abs, cid, options))
}

/**
 * Makes one out at `abs` match `cid`, in place: files the stat cache or a
 * hash shows right are left alone; all writing goes through the safe writer,
 * which refuses a symlinked directory anywhere between `root` and the files.
 */
async function checkoutOne (store: Store, root: string, abs: string, cid: CID, options: CheckoutOptions): Promise<CheckoutOut> {
  const result: CheckoutOut = { path: relative(root, abs), cid: cid.toString(), written: 0, unchanged: 0, removed: 0, skipped: [] }
  // parents first: hashing what is there must not follow a symlink out of the project either
  const existing = (await checkParents(root, abs, true)) && lstatOrNull(abs) != null
  const now = existing ? (await workspaceIds(store, abs, options.signal)).files : new Map<string, string>()
  const stats: Array<[string, StatEntry]> = []
  const r = await writeTreeInPlace(store.exporter, cid, root, abs, {
    force: options.force,
    signal: options.signal,
    existing: now,
    known: knownIn(store),
    prune: true,
    onWritten: async (item, dest) => {
      result.written++
      options.onProgress?.({ name: 'store:checkout', detail: { path: result.path, files: result.written } })
      if (item.kind !== 'file') return
      const st = lstatSync(dest, { bigint: true })
      const tsize = item.path === '' ? await store.exporter.tsizeOf(item.cid) : item.tsize
      stats.push([dest, statEntry(st, { cid: item.cid, size: Number(st.size), tsize })])
    }
  })
  result.unchanged = r.unchanged
  result.removed = r.removed ?? 0
  result.skipped = r.skipped.map((p) => relative(root, p))
  // mlp wrote these files and knows their content: once the file-system clock
  // has moved past their mtimes, an edit from now on (even a same-size one
  // within the same tick) gets a later mtime, so the entries can be trusted
  // and the next status reads nothing (racy-git, as git's index does)
  if (stats.length > 0) {
    const newest = stats.reduce((m, [, e]) => (BigInt(e.mtimeNs) > m ? BigInt(e.mtimeNs) : m), 0n)
    const recordedAtNs = (await fsClockAfter(store.clock, newest)).toString()
    for (const [, e] of stats) e.recordedAtNs = recordedAtNs
  }
  await store.index.putStats(stats)
  return result
}

/**
 * Whether the store holds a workspace file's content, by the id the importer
 * gives it (what `workspaceIds` computed): then that version can be got back
 * from the store, so replacing or removing it loses nothing. Memoised, as a
 * directory may hold the same content many times.
 */
function knownIn (store: Store): (cid: string) => Promise<boolean> {
  const seen = new Map<string, boolean>()
  return async (id) => {
    let has = seen.get(id)
    if (has == null) {
      has = await store.blockstore.has(CID.parse(id))
      seen.set(id, has)
    }
    return has
  }
}
