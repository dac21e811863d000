import { CID } from 'multiformats/cid'
import type { GcResult } from '@mlp/proto'
import type { Blockstore } from './blockstore.js'
import { DAG_PB_CODEC } from './constants.js'
import * as dagPb from '@ipld/dag-pb'
import { protectedRoots } from './in-flight.js'
import { decodeLocation, type BlockLocation } from './index-db.js'

/** Blocks between two checks of the abort signal while marking. */
const MARK_CHECK_EVERY = 1024

/**
 * Every block reachable from `roots` that is in the store; absent ones are
 * collected (once each) in `missing`. Each block is visited once, however
 * many links point at it: a DAG whose levels link the level below a thousand
 * times (a "DAG bomb" of a handful of blocks) costs its links, not the
 * product of its fan-outs.
 */
export async function markReachable (blockstore: Blockstore, roots: CID[], missing: CID[] = [], tolerant = false, signal?: AbortSignal): Promise<Set<string>> {
  const seen = new Set<string>()
  const absent = new Set<string>()
  const stack = [...roots]
  for (let step = 0; stack.length > 0; step++) {
    if (step % MARK_CHECK_EVERY === 0) signal?.throwIfAborted()
    const cid = stack.pop() as CID
    const key = cid.toString()
    if (seen.has(key) || absent.has(key)) continue
    if (!(await blockstore.has(cid))) {
      absent.add(key)
      missing.push(cid)
      continue
    }
    seen.add(key)
    if (cid.code !== DAG_PB_CODEC) continue
    let node: dagPb.PBNode
    try {
      node = dagPb.decode(await blockstore.get(cid))
    } catch (err) {
      // gc must not guess what an unreadable node links to: it stops; verify reports and goes on
      if (!tolerant) throw err
      continue
    }
    for (const link of node.Links) if (!seen.has(link.Hash.toString())) stack.push(link.Hash)
  }
  return seen
}

/**
 * Mark and sweep: removes index entries of unreachable blocks, then rewrites
 * every pack that holds dead bytes (unreachable blocks, or the torn tail of
 * a crash) by copying its live blocks to the current pack, committing their
 * new locations, and only then deleting the old pack. A crash at any point
 * leaves every live block reachable through the index. Roots of fetches in
 * progress ({@link protectedRoots}) count as roots.
 */
export async function collectGarbage (blockstore: Blockstore, roots: CID[], signal?: AbortSignal): Promise<GcResult> {
  const reachable = await markReachable(blockstore, roots, [], false, signal)
  // what fetches in progress already stored is kept: they hold the store lock
  // only while writing. Tolerantly: a malformed node a peer sent must not stop gc.
  const inFlight = protectedRoots(blockstore)
  if (inFlight.length > 0) for (const key of await markReachable(blockstore, inFlight, [], true, signal)) reachable.add(key)
  const { index, packs } = blockstore
  let removedBlocks = 0
  let removedBytes = 0
  const live = new Map<number, Array<{ cid: CID, loc: BlockLocation }>>()
  const dead: Uint8Array[] = []
  for await (const [key, value] of index.blocks.iterator()) {
    signal?.throwIfAborted()
    const cid = CID.decode(key)
    const loc = decodeLocation(value)
    if (reachable.has(cid.toString())) {
      const list = live.get(loc.pack) ?? []
      list.push({ cid, loc })
      live.set(loc.pack, list)
    } else {
      dead.push(key)
      removedBlocks++
      removedBytes += loc.length
    }
  }
  if (dead.length > 0) await index.db.batch(dead.map((key) => ({ type: 'del' as const, sublevel: index.blocks, key })), { sync: true })

  let compactedPacks = 0
  let reclaimedBytes = 0
  for (const id of await packs.list()) {
    signal?.throwIfAborted()
    if (id === packs.currentPack()) continue
    const blocks = live.get(id) ?? []
    const fileSize = await packs.fileSize(id)
    const liveBytes = blocks.reduce((n, b) => n + b.loc.length + 6 + b.cid.bytes.length, 0)
    if (liveBytes >= fileSize && fileSize > 0) continue
    const generation = blockstore.generation()
    for (const b of blocks) {
      const bytes = await blockstore.get(b.cid)
      await blockstore.relocate(b.cid, bytes)
    }
    // the old pack goes only once its blocks are durable elsewhere and indexed there
    await blockstore.commit(generation)
    await packs.remove(id)
    compactedPacks++
    reclaimedBytes += fileSize - liveBytes
  }
  return { roots: roots.length, reachableBlocks: reachable.size, removedBlocks, removedBytes, compactedPacks, reclaimedBytes }
}
