import { lstatSync, type BigIntStats } from 'node:fs'
import { mkdir, rm } from 'node:fs/promises'
import { join, relative } from 'node:path'
import { CID } from 'multiformats/cid'
import { BlockNotFoundError, type CheckoutOut, type CheckoutProgress } from '@mlp/proto'
import type { Store } from '../store/index.js'
import { statEntry } from '../store/importer.js'
import type { StatEntry } from '../store/index-db.js'
import { pointerDir } from './add.js'
import { readPointer } from './pointers.js'
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
 * temporary name and renamed into place. Files present in a tracked directory
 * but not in its pointer are left alone (`mlp status` lists them as added).
 */
export async function checkoutPointers (store: Store, root: string, pointers: string[], options: CheckoutOptions = {}): Promise<CheckoutOut[]> {
  const results: CheckoutOut[] = []
  for (const pointer of pointers) {
    const p = await readPointer(pointer)
    for (const o of p.outs) {
      const abs = join(pointerDir(pointer), o.path)
      const cid = CID.parse(o.cid)
      if (!(await store.blockstore.has(cid))) {
        throw new BlockNotFoundError(`${relative(root, abs)}: ${o.cid} is not in the local store: run \`mlp pull\` to fetch it from peers`)
      }
      results.push(await store.lock.read(async () => await checkoutOne(store, root, abs, cid, options)))
    }
  }
  return results
}

async function checkoutOne (store: Store, root: string, abs: string, cid: CID, options: CheckoutOptions): Promise<CheckoutOut> {
  const result: CheckoutOut = { path: relative(root, abs), cid: cid.toString(), written: 0, unchanged: 0, skipped: [] }
  const existing = lstatOrNull(abs)
  const now = existing == null ? new Map<string, string>() : (await workspaceIds(store, abs, options.signal)).files
  const stats: Array<[string, StatEntry]> = []
  for await (const item of store.exporter.walk(cid)) {
    options.signal?.throwIfAborted()
    const dest = item.path === '' ? abs : join(abs, item.path)
    if (item.kind === 'dir') {
      const st = lstatOrNull(dest)
      if (st != null && !st.isDirectory()) {
        if (options.force !== true) {
          result.skipped.push(relative(root, dest))
          continue
        }
        await rm(dest, { recursive: true })
      }
      await mkdir(dest, { recursive: true })
      continue
    }
    const have = now.get(item.path)
    if (have === item.cid.toString()) {
      result.unchanged++
      continue
    }
    if (have != null && options.force !== true) {
      result.skipped.push(relative(root, dest))
      continue
    }
    await store.exporter.writeFile(item.cid, dest, options.signal)
    result.written++
    options.onProgress?.({ name: 'store:checkout', detail: { path: result.path, files: result.written } })
    if (item.kind === 'file') {
      const st = lstatSync(dest, { bigint: true })
      const tsize = item.path === '' ? await store.exporter.tsizeOf(item.cid) : item.tsize
      stats.push([dest, statEntry(st, { cid: item.cid, size: Number(st.size), tsize })])
    }
  }
  await store.index.putStats(stats)
  return result
}
