/**
 * gc: mark and sweep, and the whole argument for why it never removes a
 * block that something still needs.
 *
 * What is a root. A block is live when it is reachable from a root, and a
 * root is any of:
 *   1. a pin ({@link Pins}, owned by the store);
 *   2. a root named by a registered {@link RootSource} (`store.roots`): the
 *      layers above say which DAGs they use without the store importing
 *      them. Tracking registers 'projects' (pointer files and `mlp.lock` of
 *      every registered project's workspace and, per {@link GcScope}, of its
 *      branches and tags or every commit; a project whose folder is missing
 *      answers with the roots recorded the last time it was read, until
 *      `mlp gc --forget`); the pipeline registers 'run cache' (results
 *      stored within `gcKeepRunCacheDays`);
 *   3. the root of an add, fetch or repro in progress (`blockstore.inFlight`).
 * Everything else in the index is swept.
 *
 * Why a block an in-flight operation wrote cannot be swept. Such an
 * operation writes under the store lock (shared) but may let it go between
 * writes (a fetch waits on the network), and it records its root in a
 * pointer file, lock file or pin only at the end. So it protects its root
 * before it lets the lock go with any block under that root written; what
 * it stored is reachable from the root whenever it lets the lock go (a
 * fetch stores a node before its children; an add keeps the lock until its
 * root is written); and it releases the protection only after recording
 * the root. gc holds the lock exclusively from its first read of the
 * roots to its last index write, so nothing commits while it marks and
 * sweeps (an operation that starts meanwhile writes nothing until gc is
 * done), and it reads the protected roots first and the pins and sources
 * after: an operation that finishes between the two reads recorded its
 * root before releasing it, so the second read sees it; one that finishes
 * later is in the first.
 *
 * Why a failing source stops the sweep. A source that cannot read (a lock
 * file that is not YAML, git failing, a folder it cannot list) may be hiding
 * roots; taking its answer as "none" would delete what it names. Every
 * source is asked before anything is removed, and any failure ends gc with
 * nothing removed (a {@link GcRootsError} when the source did not say what
 * went wrong itself). For the same reason a quarantined node that a root
 * reaches stops gc: its links cannot be read, so its children's fate is unknown.
 *
 * Compaction never loses a live block: a pack is deleted only after its
 * live blocks are appended elsewhere and their new locations committed.
 */
import { CID } from 'multiformats/cid'
import { GcRootsError, MlpError, QuarantinedNodeError, type GcResult, type GcScope } from '@mlp/proto'
import type { Blockstore } from './blockstore.js'
import { DAG_PB_CODEC, DEFAULT_COMPACT_BELOW } from './constants.js'
import * as dagPb from '@ipld/dag-pb'
import { protectedRoots } from './in-flight.js'
import { decodeLocation, type BlockLocation } from './index-db.js'
import type { Store } from './index.js'
import type { Pins } from './pins.js'
import type { RootQuery, RootSource, RootSources, SourceRoots } from './root-sources.js'
import type { Logger } from '../logger.js'

export { DEFAULT_COMPACT_BELOW }

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
 * The mark and sweep of {@link collectStoreGarbage}, given the roots (tests
 * call it directly); the caller holds the store lock exclusively.
 * Removes index entries of unreachable blocks, then rewrites
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
 * pin), so one of the two reads sees it. The pack being written is
 * rewritten only when it too is below `compactBelow`, after sealing it
 * (appends go on in a new one); dead bytes left there are reported as
 * `heldInCurrentPack`, and `reclaimedBytes` is what the pack files actually
 * shrank by.
 */
export async function collectGarbage (blockstore: Blockstore, roots: CID[] | (() => Promise<CID[]>), signal?: AbortSignal, options: GcOptions = {}): Promise<GcResult> {
  // what fetches, adds and repros in progress stored is kept: they hold the
  // store lock only while writing. Tolerantly: a malformed node a peer sent must not stop gc.
  const inFlight = protectedRoots(blockstore)
  // blocks an operation appended but has not committed yet (a fetch commits
  // every few MB and lets the lock go between blocks) are in no index entry,
  // so the sweep below would count their pack as dead and delete it under
  // them: they are indexed first (nothing appends while gc holds the lock)
  if (options.dry !== true) await blockstore.commit()
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
  let deadInCurrentPack = 0
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
      if (loc.pack === current) deadInCurrentPack += recordBytes({ cid, loc })
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
  // the pack being written is rewritten like the others only when its dead
  // bytes are worth it (a fetch that failed on a full disk leaves what it
  // committed there): it is sealed first, so appends go on in a new one
  let sealCurrent = false
  for (const id of packIds) {
    const fileSize = await packs.fileSize(id)
    const liveBytes = (live.get(id) ?? []).reduce((n, b) => n + recordBytes(b), 0)
    if (id === current) {
      sealCurrent = deadInCurrentPack > 0 && shouldCompact(fileSize, liveBytes, compactBelow)
      if (sealCurrent) wouldReturn += Math.max(0, fileSize - liveBytes)
      continue
    }
    if (shouldCompact(fileSize, liveBytes, compactBelow)) {
      toCompact.push(id)
      wouldReturn += Math.max(0, fileSize - liveBytes)
    } else if (liveBytes < fileSize) {
      uncompactedPacks++
      uncompactedDeadBytes += fileSize - liveBytes
    }
  }
  const heldInCurrentPack = sealCurrent ? 0 : deadInCurrentPack
  const base = { roots: rootList.length, reachableBlocks: reachable.size, removedBlocks, removedBytes, packBytesBefore, heldInCurrentPack, uncompactedPacks, uncompactedDeadBytes, compactBelow }
  if (options.dry === true) {
    return { ...base, compactedPacks: 0, reclaimedBytes: wouldReturn, packBytesAfter: packBytesBefore - wouldReturn, dry: true, wouldRemove: await topLevel(blockstore, deadCids, signal) }
  }
  options.log?.info('gc sweeping', { removedBlocks, removedBytes, packsToCompact: toCompact.length })
  if (dead.length > 0) await index.db.batch(dead.map((key) => ({ type: 'del' as const, sublevel: index.blocks, key })), { sync: true })
  if (sealCurrent) {
    const sealed = await packs.seal()
    if (sealed != null) toCompact.push(sealed)
  }

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

/** What one root source contributed, for the gc summary. */
export interface SourceReport {
  /** Roots it named (optional ones included). */
  roots: number
  /** See {@link SourceRoots.read}. */
  read?: number
  /** See {@link SourceRoots.missing}. */
  missing?: string[]
}

/** Every root of one gc, from the pins and every registered source. */
export interface GatheredRoots {
  /** Unique roots. */
  roots: CID[]
  /** Those only ever named as optional (see {@link SourceRoots.optional}): they may have no blocks. */
  optional: Set<string>
  /** By source name. */
  sources: Record<string, SourceReport>
}

/**
 * Asks the pins and every registered source, one after the other, for the
 * roots of `query`. The first source that fails ends it: its error is
 * rethrown when it is one of ours (it already says what to fix and that
 * nothing was removed), wrapped in a {@link GcRootsError} naming the source
 * otherwise; an abort stays an abort.
 */
export async function gatherRoots (store: { pins: Pins, roots: RootSources }, query: RootQuery): Promise<GatheredRoots> {
  const keys = new Map<string, CID>()
  const required = new Set<string>()
  const add = (cids: CID[], optional: boolean): void => {
    for (const cid of cids) {
      const key = cid.toString()
      keys.set(key, cid)
      if (!optional) required.add(key)
    }
  }
  const sources: Record<string, SourceReport> = {}
  for (const source of store.roots.list()) {
    query.signal?.throwIfAborted()
    let found: SourceRoots
    try {
      found = await source.roots(query)
    } catch (err) {
      throw sourceFailure(source, err, query.signal)
    }
    const optional = found.optional ?? []
    add(found.roots, false)
    add(optional, true)
    sources[source.name] = { roots: found.roots.length + optional.length, read: found.read, missing: found.missing }
  }
  add(await store.pins.cids(query.signal), false)
  return { roots: [...keys.values()], optional: new Set([...keys.keys()].filter((k) => !required.has(k))), sources }
}

/** The error gc ends with when `source` failed with `err`. */
function sourceFailure (source: RootSource, err: unknown, signal?: AbortSignal): unknown {
  if (signal?.aborted === true || err instanceof MlpError) return err
  return new GcRootsError(`gc root source '${source.name}' failed (${(err as Error)?.message ?? String(err)}): nothing was removed`, { cause: err })
}

/** Options of {@link collectStoreGarbage}. */
export interface StoreGcOptions {
  /** Which history the sources count (default `refs`: every local branch and tag). */
  scope?: GcScope
  /** Count and list what would go; change nothing (and record nothing). */
  dry?: boolean
  /** See {@link RootQuery.forget}. */
  forget?: ReadonlySet<string>
  /** Live share below which a pack is rewritten (default {@link DEFAULT_COMPACT_BELOW}; config key `gcCompactBelow`). */
  compactBelow?: number
  log?: Logger
  signal?: AbortSignal
  /**
   * Runs while gc still holds the store lock exclusively, after the sweep
   * (or, dry, after planning it): what must happen before any other
   * operation sees the result (forgetting projects, withdrawing provider
   * records of removed roots). A failure here fails the gc, but what was
   * swept stays swept.
   */
  finish?: (result: StoreGcResult) => Promise<void>
}

/** What {@link collectStoreGarbage} did, with what each root source named. */
export interface StoreGcResult extends GcResult {
  scope: GcScope
  sources: Record<string, SourceReport>
}

/**
 * gc of a whole store: takes its lock exclusively, reads the in-flight
 * roots, then the pins and every registered source (see the top of this
 * file for why in that order), and sweeps what none of them reaches.
 */
export async function collectStoreGarbage (store: Store, options: StoreGcOptions = {}): Promise<StoreGcResult> {
  const scope = options.scope ?? 'refs'
  const dry = options.dry === true
  const { signal } = options
  return await store.lock.write(async () => {
    let gathered: GatheredRoots | undefined
    const swept = await collectGarbage(store.blockstore, async () => {
      gathered = await gatherRoots(store, { scope, record: !dry, forget: options.forget, signal })
      return gathered.roots
    }, signal, { dry, compactBelow: options.compactBelow, log: options.log })
    const result: StoreGcResult = { ...swept, scope, sources: gathered?.sources ?? {} }
    await options.finish?.(result)
    return result
  })
}
