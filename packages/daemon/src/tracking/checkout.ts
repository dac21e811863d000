import { lstatSync, type BigIntStats } from 'node:fs'
import { join, relative } from 'node:path'
import { CID } from 'multiformats/cid'
import { BlockNotFoundError, type CheckoutOut, type CheckoutProgress } from '@mlp/proto'
import type { Store } from '../store/index.js'
import { statEntry } from '../store/importer.js'
import type { StatEntry } from '../store/index-db.js'
import { pointerDir } from './add.js'
import { readPointer } from './pointers.js'
import { checkParents, writeTreeInPlace } from './safe-write.js'
import { workspaceIds } from './status.js'

/** Options of {@link checkoutPointers}. */
export interface CheckoutOptions {
  /** Overwrite workspace files that differ from the pointer. */
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
 * `mlp checkout`: makes the workspace match the pointer files. Files already
 * right are left alone (known from the stat cache, not rehashed); files that
 * differ are skipped and reported unless `force`; each file is written to a
 * temporary name and renamed into place, never through a symlink
 * (tracking/safe-write.ts). Files present in a tracked directory
 * but not in its pointer are left alone (`mlp status` lists them as added).
 */
export async function checkoutPointers (store: Store, root: string, pointers: string[], options: CheckoutOptions = {}): Promise<CheckoutOut[]> {
  const results: CheckoutOut[] = []
  for (const pointer of pointers) {
    const p = await readPointer(pointer)
    for (const o of p.outs) {
      const abs = join(pointerDir(pointer), o.path)
      results.push(await checkoutOut(store, root, abs, CID.parse(o.cid), options))
    }
  }
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
  const result: CheckoutOut = { path: relative(root, abs), cid: cid.toString(), written: 0, unchanged: 0, skipped: [] }
  // parents first: hashing what is there must not follow a symlink out of the project either
  const existing = (await checkParents(root, abs, true)) && lstatOrNull(abs) != null
  const now = existing ? (await workspaceIds(store, abs, options.signal)).files : new Map<string, string>()
  const stats: Array<[string, StatEntry]> = []
  const r = await writeTreeInPlace(store.exporter, cid, root, abs, {
    force: options.force,
    signal: options.signal,
    existing: now,
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
  result.skipped = r.skipped.map((p) => relative(root, p))
  await store.index.putStats(stats)
  return result
}
