import { join } from 'node:path'
import { protectRoots } from '../store/in-flight.js'
import type { Store } from '../store/index.js'

/** One out of a finished job, as its signed result names it. */
export interface StoredOut {
  path: string
  cid: string
  size: number
  nfiles?: number
}

/**
 * Stores the outs of a job that finished in `work`, each under the store
 * lock and protected from gc before the lock is let go: nothing names them
 * until their signed result is in the run cache, and a `gc` run on this
 * machine in between swept them while the job still reported success. The
 * caller calls `release` once the result is recorded (or the job failed).
 */
export async function storeJobOuts (store: Store, work: string, paths: string[], signal?: AbortSignal): Promise<{ outs: StoredOut[], release: () => void }> {
  const held: Array<() => void> = []
  const release = (): void => { for (const r of held.splice(0)) r() }
  const outs: StoredOut[] = []
  try {
    for (const path of paths) {
      const r = await store.lock.read(async () => {
        const stored = await store.importer.import(join(work, path), path.split('/').pop() as string, { store: true, signal })
        held.push(protectRoots(store.blockstore, [stored.link.cid]))
        return stored
      })
      outs.push({ path, cid: r.link.cid.toString(), size: r.size, ...(r.kind === 'dir' ? { nfiles: r.nfiles } : {}) })
    }
    await store.lock.read(async () => { await store.blockstore.commit() })
    return { outs, release }
  } catch (err) {
    release()
    throw err
  }
}
