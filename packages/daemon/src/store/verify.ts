import { CID } from 'multiformats/cid'
import type { VerifyResult } from '@mlp/proto'
import type { Blockstore } from './blockstore.js'
import { markReachable } from './gc.js'
import type { RwLock } from './lock.js'
import { uniqueCids } from './unique.js'

/** Options of {@link verifyStore}. */
export interface VerifyOptions {
  signal?: AbortSignal
  onProgress?: (checked: number) => void
}

/**
 * Rehashes every stored block, then checks that every root's DAG is
 * complete. A block that fails is quarantined by the read itself (its index
 * entry set aside), so from then on it counts as missing and a fetch, pull
 * or {@link repairStore} can store a good copy. `corrupt` names the blocks
 * found bad now and those quarantined earlier (by `mlp cat`, a checkout, a
 * peer's request) that the roots still need; `missing` the others absent.
 */
export async function verifyStore (blockstore: Blockstore, roots: CID[], options: VerifyOptions = {}): Promise<VerifyResult> {
  const corrupt = new Set<string>()
  let checkedBlocks = 0
  let checkedBytes = 0
  for await (const key of blockstore.index.blocks.keys()) {
    options.signal?.throwIfAborted()
    const cid = CID.decode(key)
    try {
      checkedBytes += (await blockstore.get(cid)).length
    } catch {
      corrupt.add(cid.toString())
    }
    checkedBlocks++
    if (checkedBlocks % 1000 === 0) options.onProgress?.(checkedBlocks)
  }
  const absent: CID[] = []
  await markReachable(blockstore, roots, absent, true, options.signal)
  const missing: string[] = []
  for (const cid of absent) {
    const key = cid.toString()
    if (corrupt.has(key)) continue
    if ((await blockstore.index.getQuarantined(cid)) != null) corrupt.add(key)
    else missing.push(key)
  }
  return { checkedBlocks, checkedBytes, corrupt: [...corrupt], missing: [...new Set(missing)] }
}

/** Roots {@link repairStore} fetches at once. */
export const REPAIR_PARALLEL_ROOTS = 4

/** Options of {@link repairStore}. */
export interface RepairOptions {
  signal?: AbortSignal
  /** Called before each root whose DAG lacks blocks is fetched. */
  onRoot?: (root: CID) => void
}

/** What {@link repairStore} did: blocks stored again, and those still absent with the reason. */
export interface RepairReport {
  repaired: string[]
  unrepaired: Array<{ cid: string, root: string, reason: string }>
}

/**
 * `mlp verify --repair`: for every root whose DAG lacks blocks (missing, or
 * quarantined as corrupt), asks `fetchRoot` (the exchange: peers) for it,
 * then reports which of those blocks are back and which are not, with the
 * fetch's error. The store lock is held only to read the store, never across
 * a fetch (which takes it itself per write). Run it after
 * {@link verifyStore}, so that corrupt blocks are already quarantined.
 */
export async function repairStore (blockstore: Blockstore, lock: RwLock, roots: CID[], fetchRoot: (root: CID, signal?: AbortSignal) => Promise<void>, options: RepairOptions = {}): Promise<RepairReport> {
  const lacking = async (root: CID): Promise<CID[]> => {
    const missing: CID[] = []
    await lock.read(async () => await markReachable(blockstore, [root], missing, true, options.signal))
    return missing
  }
  // each block needed and lacking, with the first root found to need it
  const wanted = new Map<string, string>()
  const damaged: CID[] = []
  for (const root of uniqueCids(roots)) {
    options.signal?.throwIfAborted()
    const before = await lacking(root)
    if (before.length === 0) continue
    damaged.push(root)
    for (const cid of before) if (!wanted.has(cid.toString())) wanted.set(cid.toString(), root.toString())
  }
  const reasons = new Map<string, string>()
  // a few roots at a time: finding no provider for one waits out the fetch's search timeout, which should not add up
  const queue = [...damaged]
  await Promise.all(Array.from({ length: Math.min(REPAIR_PARALLEL_ROOTS, queue.length) }, async () => {
    for (let root = queue.shift(); root != null; root = queue.shift()) {
      options.signal?.throwIfAborted()
      options.onRoot?.(root)
      try {
        await fetchRoot(root, options.signal)
      } catch (err) {
        options.signal?.throwIfAborted()
        reasons.set(root.toString(), (err as Error).message)
      }
    }
  }))
  // checked again at the end: a root fetched later may have brought blocks an earlier one lacked
  const still = new Set<string>()
  for (const root of damaged) for (const cid of await lacking(root)) still.add(cid.toString())
  const repaired = [...wanted.keys()].filter((cid) => !still.has(cid))
  const unrepaired = [...wanted].filter(([cid]) => still.has(cid)).map(([cid, root]) => ({
    cid,
    root,
    reason: reasons.get(root) ?? 'the fetch ended without it'
  }))
  return { repaired, unrepaired }
}
