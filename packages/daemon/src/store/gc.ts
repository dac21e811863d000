import { CID } from 'multiformats/cid'
import { QuarantinedNodeError, type GcResult } from '@mlp/proto'
import type { Blockstore } from './blockstore.js'
import { DAG_PB_CODEC } from './constants.js'
import * as dagPb from '@ipld/dag-pb'
import { protectedRoots } from './in-flight.js'
import { decodeLocation, type BlockLocation } from './index-db.js'
import type { Logger } from '../logger.js'

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

/** Most top-level DAGs a dry run lists. */
const MAX_LISTED = 100

/**
 * A pack is rewritten only when less than this share of its bytes is live.
 * Rewriting copies every live byte: compacting a 1 GiB pack for one dead
 * block would write 1 GiB to return a few KB. Below one half, each byte
 * copied returns at least one byte to the disk.
 */
export const DEFAULT_COMPACT_BELOW = 0.5

/**
 * Whether gc rewrites a pack of `fileSize` bytes holding `liveBytes` live
 * (records of reachable blocks). A pack with nothing live is just deleted;
 * one with no dead bytes is left alone; otherwise its live share must be
 * below `compactBelow` (0 never rewrites a pack holding anything live,
 * 1 rewrites every pack holding any dead byte).
 */
export function shouldCompact (fileSize: number, liveBytes: number, compactBelow = DEFAULT_COMPACT_BELOW): boolean {
  if (liveBytes === 0) return true
  if (liveBytes >= fileSize) return false
  return liveBytes / fileSize < compactBelow
}

/** Options of {@link collectGarbage}. */
export interface GcOptions {
  /** Count and list what would go; change nothing. */
  dry?: boolean
  /** Live share below which a pack is rewritten (default {@link DEFAULT_COMPACT_BELOW}); see {@link shouldCompact}. */
  compactBelow?: number
  /** Where gc says when it starts sweeping and each pack it starts rewriting (crash tests time their kills by it). */
  log?: Logger
}

/** Bytes a block takes in a pack: its record header, cid and payload. */
function recordBytes (b: { cid: CID, loc: BlockLocation }): number {
  return b.loc.length + 6 + b.cid.bytes.length
}

/**
 * Mark and sweep: removes index entries of unreachable blocks, then rewrites
 * each pack whose live share is below `compactBelow` (dead bytes are
 * unreachable blocks, or the torn tail of a crash) by copying its live
 * blocks to the current pack, committing their new locations, and only then
 * deleting the old pack. Packs with dead bytes left as they are count in
 * `uncompactedPacks` and `uncompactedDeadBytes`. A crash at any point
 * leaves every live block reachable through the index.
 *
 * Roots of operations in progress ({@link protectedRoots}) count as roots.
 * They are read before `roots` when that is a function: an operation
 * releases its protection only after recording its root (pointer, lock,
 * pin), so one of the two reads sees it. The pack being written is never
 * rewritten (appends go on in it): dead bytes there are reported as
 * `heldInCurrentPack`, and `reclaimedBytes` is what the pack files actually
 * shrank by.
 */
export async function collectGarbage (blockstore: Blockstore, roots: CID[] | (() => Promise<CID[]>), signal?: AbortSignal, options: GcOptions = {}): Promise<GcResult> {
  // what fetches, adds and repros in progress stored is kept: they hold the
  // store lock only while writing. Tolerantly: a malformed node a peer sent must not stop gc.
  const inFlight = protectedRoots(blockstore)
  const rootList = typeof roots === 'function' ? await roots() : roots
  const missing: CID[] = []
  const reachable = await markReachable(blockstore, rootList, missing, false, signal)
  // a quarantined (corrupt) node hides what it links to: sweeping now would
  // delete the children of a directory or file whose one bad block could
  // still be fetched again, turning one bad sector into lost data
  for (const cid of missing) {
    if (cid.code !== DAG_PB_CODEC) continue
    const q = await blockstore.index.getQuarantined(cid)
    if (q != null) throw new QuarantinedNodeError(`gc stopped: node ${cid.toString()} is quarantined (${q.reason}), so gc cannot tell what it links to; run \`mlp verify --repair\` first (nothing was removed)`)
  }
  if (inFlight.length > 0) for (const key of await markReachable(blockstore, inFlight, [], true, signal)) reachable.add(key)
  const { index, packs } = blockstore
  const current = packs.currentPack()
  let removedBlocks = 0
  let removedBytes = 0
  let heldInCurrentPack = 0
  const live = new Map<number, Array<{ cid: CID, loc: BlockLocation }>>()
  const dead: Uint8Array[] = []
  const deadCids: CID[] = []
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
      if (options.dry === true) deadCids.push(cid)
      removedBlocks++
      removedBytes += loc.length
      if (loc.pack === current) heldInCurrentPack += recordBytes({ cid, loc })
    }
  }
  const packIds = await packs.list()
  const packBytesBefore = await packBytes(blockstore, packIds)
  // which packs to rewrite is decided once, from the same listing a dry run reports
  const compactBelow = options.compactBelow ?? DEFAULT_COMPACT_BELOW
  const toCompact: number[] = []
  let wouldReturn = 0
  let uncompactedPacks = 0
  let uncompactedDeadBytes = 0
  for (const id of packIds) {
    if (id === current) continue
    const fileSize = await packs.fileSize(id)
    const liveBytes = (live.get(id) ?? []).reduce((n, b) => n + recordBytes(b), 0)
    if (shouldCompact(fileSize, liveBytes, compactBelow)) {
      toCompact.push(id)
      wouldReturn += Math.max(0, fileSize - liveBytes)
    } else if (liveBytes < fileSize) {
      uncompactedPacks++
      uncompactedDeadBytes += fileSize - liveBytes
    }
  }
  const base = { roots: rootList.length, reachableBlocks: reachable.size, removedBlocks, removedBytes, packBytesBefore, heldInCurrentPack, uncompactedPacks, uncompactedDeadBytes, compactBelow }
  if (options.dry === true) {
    return { ...base, compactedPacks: 0, reclaimedBytes: wouldReturn, packBytesAfter: packBytesBefore - wouldReturn, dry: true, wouldRemove: await topLevel(blockstore, deadCids, signal) }
  }
  options.log?.info('gc sweeping', { removedBlocks, removedBytes, packsToCompact: toCompact.length })
  if (dead.length > 0) await index.db.batch(dead.map((key) => ({ type: 'del' as const, sublevel: index.blocks, key })), { sync: true })

  let compactedPacks = 0
  for (const id of toCompact) {
    signal?.throwIfAborted()
    const blocks = live.get(id) ?? []
    options.log?.info('gc compacting pack', { pack: id, liveBlocks: blocks.length })
    const generation = blockstore.generation()
    for (const b of blocks) {
      const bytes = await blockstore.get(b.cid)
      await blockstore.relocate(b.cid, bytes)
    }
    // the old pack goes only once its blocks are durable elsewhere and indexed there
    await blockstore.commit(generation)
    await packs.remove(id)
    compactedPacks++
  }
  const packBytesAfter = await packBytes(blockstore, await packs.list())
  return { ...base, compactedPacks, reclaimedBytes: Math.max(0, packBytesBefore - packBytesAfter), packBytesAfter }
}

/** Bytes of the pack files on disk (a pack removed meanwhile counts nothing). */
async function packBytes (blockstore: Blockstore, ids: number[]): Promise<number> {
  let n = 0
  for (const id of ids) n += await blockstore.packs.fileSize(id).catch(() => 0)
  return n
}

/**
 * The dead blocks no other dead block links to: the DAGs a user would
 * recognise (a file's or a directory's root), at most {@link MAX_LISTED}.
 */
async function topLevel (blockstore: Blockstore, dead: CID[], signal?: AbortSignal): Promise<string[]> {
  const linked = new Set<string>()
  for (const cid of dead) {
    signal?.throwIfAborted()
    if (cid.code !== DAG_PB_CODEC) continue
    try {
      for (const link of dagPb.decode(await blockstore.get(cid)).Links) linked.add(link.Hash.toString())
    } catch {
      // an unreadable dead node links to nothing we can name: it is listed itself
    }
  }
  return dead.map(String).filter((c) => !linked.has(c)).slice(0, MAX_LISTED)
}
