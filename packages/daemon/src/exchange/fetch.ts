import * as dagPb from '@ipld/dag-pb'
import { BlockNotFoundError, MsgType } from '@mlp/proto'
import { CID } from 'multiformats/cid'
import type { Logger } from '../logger.js'
import { DAG_PB_CODEC, FILE_FANOUT, PROGRESS_INTERVAL_MS } from '../store/constants.js'
import { matchesCid } from '../store/hash.js'
import { DiskFloor } from '../store/disk-floor.js'
import { protectRoot } from '../store/in-flight.js'
import { uniqueCids as unique } from '../store/unique.js'
import type { Store } from '../store/index.js'
import { AVERAGE_CHUNK_BYTES, FETCH_COMMIT_BYTES, MAX_PEER_FAILURES, MAX_STALLED_ROUNDS, FIND_TIMEOUT_MS, FETCH_PATIENCE_MS, MAX_RETRY_PAUSE_MS, PEER_IDLE_TIMEOUT_MS, STALLED_RETRY_MS, WANT_BATCH, WANTS_IN_FLIGHT, MIN_WANTS_PER_PEER, WAVE_BLOCKS } from './constants.js'
import type { Exchange, PeerSession } from './exchange.js'
import type { Providers } from './providers.js'
import { PieceJoiner } from './piece-joiner.js'
import { WorkQueue } from './work-queue.js'

async function delay (ms: number, signal?: AbortSignal): Promise<void> {
  signal?.throwIfAborted()
  await new Promise<void>((resolve) => {
    const done = (): void => {
      clearTimeout(timer)
      signal?.removeEventListener('abort', done)
      resolve()
    }
    const timer = setTimeout(done, ms)
    signal?.addEventListener('abort', done, { once: true })
  })
  signal?.throwIfAborted()
}

/** Progress of a fetch. */
export interface FetchProgress {
  root: string
  bytes: number
  blocks: number
  /** Peers serving blocks right now. */
  peers: number
  /** Encoded bytes of the whole DAG (the root's UnixFS Tsize); 0 until the root block is here. */
  totalBytes: number
  /** Bytes of blocks that were already in the store (a resumed fetch). */
  presentBytes: number
}

/** What a fetch did. */
export interface FetchResult {
  root: string
  /** Blocks and bytes received from peers. */
  blocks: number
  bytes: number
  /** Blocks that were already in the store (a resumed or repeated fetch). */
  alreadyHad: number
  /** Blocks and bytes each peer served. */
  fromPeers: Record<string, { blocks: number, bytes: number }>
}

/** Components of {@link fetchDag}. */
export interface FetchComponents {
  exchange: Exchange
  store: Store
  log: Logger
  /** DHT lookups, for holders that are not connected. */
  providers?: Providers
}

/** Options of {@link fetchDag}. */
export interface FetchOptions {
  signal?: AbortSignal
  onProgress?: (p: FetchProgress) => void
  /** How long to look for providers before failing (default {@link FIND_TIMEOUT_MS}). */
  findTimeoutMs?: number
}

/**
 * Fetches every block below `root` that the store lacks, wave by wave down
 * the DAG. Each wave is split across every peer that has the root; the
 * peers share {@link WANTS_IN_FLIGHT} requests of {@link WANT_BATCH} blocks in
 * flight ({@link wantsPerPeer}). Every block is hashed before it is stored: a peer that sends wrong
 * bytes is dropped and its work goes to the others, as does the work of a
 * peer that dies or goes silent. Blocks already stored are never asked for,
 * so a fetch interrupted at any point resumes where it stopped.
 *
 * Each block is visited once, however many links point at it, so the work is
 * linear in the DAG's unique blocks (a DAG "bomb" of four blocks linking the
 * level below a thousand times costs four blocks). The store lock is held
 * only while the store is read or written, never across a network wait: gc
 * and the API go on while a peer is slow, and gc keeps what the fetch stored
 * (its root is protected while it runs). The signal stops it at the next
 * block, and a free-disk floor ({@link DiskFloor}) stops it before the disk
 * is full.
 */
export async function fetchDag (c: FetchComponents, root: CID, options: FetchOptions = {}): Promise<FetchResult> {
  const run = new FetchRun(c, root, options)
  const release = protectRoot(c.store.blockstore, root)
  try {
    return await run.run()
  } finally {
    release()
  }
}

/**
 * WANT messages each of `peers` peers keeps in flight: {@link WANTS_IN_FLIGHT}
 * shared among them, at least {@link MIN_WANTS_PER_PEER} each. Every peer at
 * the full count kept four times the blocks in flight with four holders:
 * they piled up in the fetcher's stream buffers (peak RSS 360-394 MB against
 * 249 MB from one holder) while the fetcher, which stores them one at a
 * time, was the bottleneck anyway.
 */
export function wantsPerPeer (peers: number): number {
  return Math.max(MIN_WANTS_PER_PEER, Math.ceil(WANTS_IN_FLIGHT / Math.max(peers, 1)))
}

class FetchRun {
  private readonly result: FetchResult
  /** Peers dropped for good: they sent bytes that did not match their ids. */
  private readonly bad = new Set<string>()
  /** Failures (timeouts, closed streams) per peer: a busy peer gets a few more chances. */
  private readonly failures = new Map<string, number>()
  private providers?: string[]
  private active = 0
  private sinceCommit = 0
  private lastProgress = 0
  private readonly generation: number
  /** For the progress line: the DAG's size, bytes already stored, and the sizes its links give for the current wave. */
  private totalBytes = 0
  private presentBytes = 0
  private readonly linkSize = new Map<string, number>()
  /**
   * Nodes (dag-pb blocks) this walk has already had or fetched: their links
   * are followed once. Raw leaves are not kept (a file's leaves are about a
   * thousand times as many as its nodes); repeats of a leaf are dropped
   * within a wave instead, which bounds them by the links of unique nodes.
   */
  private readonly visited = new Set<string>()
  /**
   * The node each block of the walk was linked from. A leaf's entry goes
   * once it is stored or found present (so this is bounded like the queue);
   * a node's stays, for the chains of its descendants. See {@link scopeChain}.
   */
  private readonly parentOf = new Map<string, CID>()
  /** Per peer, the nodes it served us in this fetch (or was asked for ahead of their links). */
  private readonly opened = new Map<string, Set<string>>()
  private readonly floor: DiskFloor

  constructor (private readonly c: FetchComponents, private readonly root: CID, private readonly options: FetchOptions) {
    this.result = { root: root.toString(), blocks: 0, bytes: 0, alreadyHad: 0, fromPeers: {} }
    this.generation = c.store.blockstore.generation()
    this.floor = new DiskFloor(c.store.packs.dir, root.toString())
  }

  /** Runs `fn` holding the store lock (shared): only for store reads and writes, never a network wait. */
  private async locked<T>(fn: () => Promise<T>): Promise<T> {
    return await this.c.store.lock.read(fn)
  }

  async run (): Promise<FetchResult> {
    try {
      await this.walk([this.root])
      // a last check of the whole DAG: whatever the scheduling did, a fetch
      // that reports success has every block
      // (a pass checks a bounded number of ids: passes go on while they store something)
      for (let fruitless = 0; ;) {
        const missing = await this.missingBelow(this.root)
        if (missing.length === 0) break
        if (fruitless >= 3) throw new BlockNotFoundError(`block ${missing[0].toString()} of ${this.root.toString()} could not be fetched from any peer`)
        this.c.log.warn('fetch left blocks behind; fetching them again', { root: this.root.toString(), missing: missing.length })
        const before = this.result.blocks
        // a node listed missing is fetched again, and its children walked anew
        for (const cid of missing) this.visited.delete(cid.toString())
        await this.walk(missing)
        fruitless = this.result.blocks > before ? 0 : fruitless + 1
      }
      await this.locked(async () => { await this.c.store.blockstore.commit(this.generation) })
      this.progress(true)
      return this.result
    } catch (err) {
      // keep what arrived: the next fetch starts from there
      await this.locked(async () => { await this.c.store.blockstore.commit(this.generation) }).catch(() => {})
      throw err
    }
  }

  /**
   * Fetches what is missing below `start`, depth-first in waves of bounded
   * size: the children of a node go to the front of the queue, and a wave
   * takes nodes only while the children they are expected to bring (from
   * their size, as their parent's link gives it) stay within
   * {@link WAVE_BLOCKS}. So memory stays flat however large the DAG: a whole
   * level of a 100 GiB file would be over a million ids. A node already
   * visited is skipped, and repeats within a wave are dropped.
   */
  private async walk (start: CID[]): Promise<void> {
    let queue: CID[] = [...start]
    while (queue.length > 0) {
      this.options.signal?.throwIfAborted()
      const taken = this.takeWave(queue)
      queue = queue.slice(taken.length)
      const sizes = new Map<string, number | undefined>()
      for (const cid of taken) {
        const key = cid.toString()
        sizes.set(key, this.linkSize.get(key))
        this.linkSize.delete(key)
      }
      const wave = unique(taken).filter((cid) => !this.visited.has(cid.toString()))
      const next: CID[] = []
      const missing = wave.length === 0 ? [] : await this.locked(async () => await this.sortWave(wave, sizes, next))
      if (missing.length > 0) await this.fetchWave(missing, next)
      queue = next.concat(queue)
    }
  }

  /** The ids of `wave` the store lacks; the children of the nodes it has go to `next`. */
  private async sortWave (wave: CID[], sizes: Map<string, number | undefined>, next: CID[]): Promise<CID[]> {
    const have = await this.c.store.blockstore.hasMany(wave)
    const missing: CID[] = []
    for (let i = 0; i < wave.length; i++) {
      if (!have[i]) {
        missing.push(wave[i])
        continue
      }
      this.result.alreadyHad++
      if (wave[i].code === DAG_PB_CODEC) {
        this.visited.add(wave[i].toString())
        const bytes = await this.c.store.blockstore.get(wave[i])
        this.presentBytes += bytes.length
        this.children(wave[i], bytes, next)
      } else {
        this.presentBytes += sizes.get(wave[i].toString()) ?? 0
        this.parentOf.delete(wave[i].toString())
      }
    }
    return missing
  }

  /**
   * Ids below `root` that the store lacks (up to {@link WAVE_BLOCKS}), node
   * by node with one index lookup for each node's distinct links: a set of
   * the nodes (not the leaves) seen, so each is read once, and no lookup per
   * block. The lock is taken per node, so gc is never held up for long.
   */
  private async missingBelow (root: CID): Promise<CID[]> {
    const { blockstore } = this.c.store
    if (!(await this.locked(async () => await blockstore.has(root)))) return [root]
    const missing: CID[] = []
    const stack = root.code === DAG_PB_CODEC ? [root] : []
    const seen = new Set<string>([root.toString()])
    while (stack.length > 0 && missing.length < WAVE_BLOCKS) {
      this.options.signal?.throwIfAborted()
      const cid = stack.pop() as CID
      await this.locked(async () => {
        let links: CID[]
        try {
          links = unique(dagPb.decode(await blockstore.get(cid)).Links.map((l) => l.Hash)).filter((l) => !seen.has(l.toString()))
        } catch {
          // a node gone bad here is for `mlp verify` to report; it cannot be fetched again
          return
        }
        const have = await blockstore.hasMany(links)
        links.forEach((link, i) => {
          if (link.code === DAG_PB_CODEC) seen.add(link.toString())
          if (!have[i]) missing.push(link)
          else if (link.code === DAG_PB_CODEC) stack.push(link)
        })
      })
    }
    return unique(missing)
  }

  /** The front of `queue` that fits one wave (at least one id). */
  private takeWave (queue: CID[]): CID[] {
    let budget = WAVE_BLOCKS
    let n = 0
    while (n < queue.length) {
      const cid = queue[n]
      // a node brings about one child per average chunk of what it spans
      const cost = cid.code === DAG_PB_CODEC ? Math.min(FILE_FANOUT, 1 + Math.ceil((this.linkSize.get(cid.toString()) ?? FILE_FANOUT * AVERAGE_CHUNK_BYTES) / AVERAGE_CHUNK_BYTES)) : 1
      if (n > 0 && cost > budget) break
      budget -= cost
      n++
    }
    return queue.slice(0, n)
  }

  private children (cid: CID, bytes: Uint8Array, into: CID[]): void {
    const { Links } = dagPb.decode(bytes)
    for (const link of Links) {
      into.push(link.Hash)
      const key = link.Hash.toString()
      if (link.Tsize != null) this.linkSize.set(key, link.Tsize)
      this.parentOf.set(key, cid)
    }
    if (this.totalBytes === 0 && cid.equals(this.root)) this.totalBytes = Links.reduce((n, l) => n + (l.Tsize ?? 0), bytes.length)
  }

  private async fetchWave (missing: CID[], next: CID[]): Promise<void> {
    if (this.providers == null) {
      const lookup = this.c.providers == null ? undefined : async () => await (this.c.providers as Providers).find(this.root, this.options.signal)
      this.providers = await this.c.exchange.findProviders(this.root, { signal: this.options.signal, timeoutMs: this.options.findTimeoutMs ?? FIND_TIMEOUT_MS, lookup })
      this.c.log.info('fetching', { root: this.root.toString(), providers: this.providers })
    }
    const work = new WorkQueue(missing, this.providers)
    // Two kinds of "nothing came", bounded differently. Peers that answer
    // MISSING are honest and quick: a few short retries (they may be fetching
    // the same data), then fail. Peers that time out or drop the stream are
    // busy (one seed serving twenty fetchers on two cores): patience is
    // measured in time since the last stored block, with growing pauses, and
    // such a peer is dialed again, not written off.
    let missingRounds = 0
    let lastProgress = Date.now()
    let pause = STALLED_RETRY_MS
    while (work.remaining() > 0) {
      this.options.signal?.throwIfAborted()
      const live = this.providers.filter((p) => !this.bad.has(p) && (this.failures.get(p) ?? 0) < MAX_PEER_FAILURES)
      const stuck = work.unservable(live)
      let busy = live.length === 0
      if (live.length > 0 && stuck == null) {
        const before = this.result.blocks
        const failed = this.failureCount()
        const wants = wantsPerPeer(live.length)
        await Promise.all(live.map(async (peer) => { await this.fromPeer(peer, work, next, wants) }))
        if (this.result.blocks > before) {
          lastProgress = Date.now()
          pause = STALLED_RETRY_MS
          missingRounds = 0
          continue
        }
        busy = this.failureCount() > failed
      }
      if (!busy && ++missingRounds > MAX_STALLED_ROUNDS) {
        const cid = stuck ?? work.take('', 1)[0] ?? this.root
        throw new BlockNotFoundError(`no reachable peer could give block ${cid.toString()} of ${this.root.toString()}: ${live.length} peer(s) answered that they lack it; ${this.bad.size} dropped for bad data`)
      }
      if (busy && Date.now() - lastProgress > FETCH_PATIENCE_MS) {
        throw new BlockNotFoundError(`fetching ${this.root.toString()} stored nothing for ${Math.round(FETCH_PATIENCE_MS / 1000)} s: ${this.failing().length} peer(s) kept failing (busy or unreachable), ${this.bad.size} dropped for bad data; ${work.remaining()} block(s) left`)
      }
      // ask again who holds the root: new holders join, and a peer that
      // answers is alive, so it gets its failures back
      const fresh = await this.c.exchange.whoHas([this.root], { signal: this.options.signal })
      for (const [p, h] of fresh) {
        if (!h[0] || this.bad.has(p)) continue
        this.failures.delete(p)
        if (!this.providers.includes(p)) this.providers.push(p)
      }
      if (busy) {
        // a peer too busy to answer HAS in time but still connected gets another try after the pause;
        // one whose connection is gone cannot serve: with no one else left the fetch ends now
        for (const p of this.failing()) if (this.c.exchange.isConnected(p)) this.failures.delete(p)
        if (!this.providers.some((p) => !this.bad.has(p) && (this.failures.get(p) ?? 0) < MAX_PEER_FAILURES)) {
          throw new BlockNotFoundError(`no reachable peer holds the rest of ${this.root.toString()}: ${this.failing().length} peer(s) failed and are no longer connected, ${this.bad.size} dropped for bad data; ${work.remaining()} block(s) left`)
        }
        this.c.log.info('no block came: peers failing; trying them again', { root: this.root.toString(), waitMs: pause, sinceProgressMs: Date.now() - lastProgress })
      }
      // the peers that said "missing" may be fetching the same data: ask them again
      work.forgetMissing()
      await delay(pause, this.options.signal)
      if (busy) pause = Math.min(pause * 2, MAX_RETRY_PAUSE_MS)
    }
  }

  /** Failures counted so far, all peers together. */
  private failureCount (): number {
    let n = 0
    for (const f of this.failures.values()) n += f
    return n
  }

  /** Peers out of the fetch for failing (not for lying). */
  private failing (): string[] {
    return [...this.failures].filter(([p, n]) => n >= MAX_PEER_FAILURES && !this.bad.has(p)).map(([p]) => p)
  }

  /** Works through `work` with one peer until there is nothing left for it, or it fails. */
  private async fromPeer (peer: string, work: WorkQueue, next: CID[], wants: number): Promise<void> {
    let session: PeerSession
    try {
      session = await this.c.exchange.open(peer, this.options.signal)
    } catch (err) {
      this.c.log.warn('cannot open exchange stream', { peer, error: (err as Error).message })
      this.failures.set(peer, (this.failures.get(peer) ?? 0) + 1)
      return
    }
    const ch = session.channel
    const inflight = new Map<number, Map<string, CID>>()
    // this peer's blocks are handled one at a time (each stored before the next is read): one buffer serves them all
    const joiner = new PieceJoiner()
    /** Nodes asked for ahead of their links (we hold them): checked, not stored. */
    const scopeOnly = new Set<string>()
    const opened = this.openedBy(peer)
    const served = (this.result.fromPeers[peer] ??= { blocks: 0, bytes: 0 })
    const fill = async (): Promise<void> => {
      while (inflight.size < wants) {
        const batch = work.take(peer, WANT_BATCH, inflight.size === 0)
        if (batch.length === 0) return
        const chain = this.scopeChain(opened, batch)
        for (const cid of chain) scopeOnly.add(cid.toString())
        const req = this.c.exchange.req()
        inflight.set(req, new Map([...chain, ...batch].map((cid) => [cid.toString(), cid])))
        await ch.send({ type: MsgType.Want, req, cids: [...chain, ...batch].map((cid) => cid.bytes) })
      }
    }
    let idle: NodeJS.Timeout | undefined
    const watch = (): void => {
      clearTimeout(idle)
      idle = setTimeout(() => { ch.abort(new Error(`peer silent for ${PEER_IDLE_TIMEOUT_MS / 1000} s`)) }, PEER_IDLE_TIMEOUT_MS)
    }
    const onAbort = (): void => { ch.abort(new Error('fetch aborted')) }
    this.options.signal?.addEventListener('abort', onAbort)
    this.active++
    try {
      await fill()
      if (inflight.size === 0) return
      watch()
      for await (const msg of ch.messages()) {
        // storing may wait for gc to release the store: that is no silence of the peer's
        clearTimeout(idle)
        if (msg.type !== MsgType.Block && msg.type !== MsgType.Missing) throw new Error(`unexpected message type ${msg.type}`)
        const pending = inflight.get(msg.req)
        const cid = pending?.get(CID.decode(msg.cid).toString())
        if (pending == null || cid == null) throw new Error('answer to a block we did not ask for')
        const key = cid.toString()
        pending.delete(key)
        if (scopeOnly.delete(key)) {
          // a node asked for only to open the peer's walk to its links
          if (msg.type === MsgType.Missing) opened.delete(key)
          else if (!matchesCid(cid, joiner.join(msg))) {
            this.c.log.warn('peer sent a block that does not match its id: dropping it', { peer, cid: key })
            this.bad.add(peer)
            throw new Error('lying peer')
          }
        } else if (msg.type === MsgType.Missing) {
          work.giveBack([cid], peer)
        } else {
          const bytes = joiner.join(msg)
          if (!matchesCid(cid, bytes)) {
            this.c.log.warn('peer sent a block that does not match its id: dropping it', { peer, cid: cid.toString() })
            this.bad.add(peer)
            work.giveBack([cid], peer)
            throw new Error('lying peer')
          }
          const length = await this.store(cid, bytes, next)
          if (cid.code === DAG_PB_CODEC) opened.add(key)
          served.blocks++
          served.bytes += length
        }
        watch()
        if (pending.size === 0) {
          inflight.delete(msg.req)
          await fill()
          if (inflight.size === 0) break
        }
      }
      if (inflight.size > 0) throw new Error('peer closed the stream with requests outstanding')
      await ch.close()
    } catch (err) {
      ch.abort(err as Error)
      // our own store failing (a full disk) is no fault of the peer's: the whole fetch stops
      if ((err as Error).name === 'DiskFullError') throw err
      if (!this.bad.has(peer)) {
        this.c.log.warn('peer failed during fetch; moving its work to others', { peer, error: (err as Error).message })
        this.failures.set(peer, (this.failures.get(peer) ?? 0) + 1)
      }
      // a liar is excluded from its blocks; a peer that merely failed is not (its failure count rules it out)
      for (const pending of inflight.values()) work.giveBack([...pending.values()].filter((c) => !scopeOnly.has(c.toString())), this.bad.has(peer) ? peer : undefined)
      // nodes asked for ahead of their links that never came: the peer's walk is not open there, ask them again next time
      for (const key of scopeOnly) opened.delete(key)
      ch.abort(err as Error)
      this.options.signal?.throwIfAborted()
    } finally {
      clearTimeout(idle)
      this.active--
      this.options.signal?.removeEventListener('abort', onAbort)
    }
  }

  private openedBy (peer: string): Set<string> {
    let set = this.opened.get(peer)
    if (set == null) this.opened.set(peer, set = new Set())
    return set
  }

  /**
   * The nodes to ask `peer` for ahead of `batch`, root first: each block's
   * ancestors up to one the peer already served us (or the root). A peer
   * serves a stranger a block only below a shared root and linked from a
   * block it served that stranger (trust/team-scope.ts); when a fetch splits
   * a DAG across holders, the leaves asked of one were linked from nodes
   * another served, and every holder but the first answered MISSING: four
   * holders fetched 1 GiB at 19 MB/s, one of them serving it all. Asking
   * again for the few nodes above (a 1 GiB file has about sixty) opens each
   * holder's walk; they come back verified and are not stored again. A
   * teammate, who may read anything, just sends them.
   */
  private scopeChain (opened: Set<string>, batch: CID[]): CID[] {
    const chain: CID[] = []
    for (const cid of batch) {
      const up: CID[] = []
      let parent = this.parentOf.get(cid.toString())
      // a DAG deeper than this is not one mlp made: its blocks are asked for as they are
      for (let depth = 0; parent != null && depth < 64; depth++) {
        const key = parent.toString()
        if (opened.has(key)) break
        opened.add(key)
        up.push(parent)
        parent = this.parentOf.get(key)
      }
      chain.push(...up.reverse())
    }
    return chain
  }

  /** Stores a verified block and queues its children; returns its length. */
  private async store (cid: CID, data: Uint8Array, next: CID[]): Promise<number> {
    this.options.signal?.throwIfAborted()
    const length = data.length
    await this.floor.reserve(length)
    // the wave was filtered with hasMany: no per-block index lookup
    await this.locked(async () => { await this.c.store.blockstore.putNew(cid, data, this.generation) })
    if (cid.code !== DAG_PB_CODEC) this.parentOf.delete(cid.toString())
    if (cid.code === DAG_PB_CODEC) {
      this.visited.add(cid.toString())
      // a copy: `data` may be the joiner's reused buffer, and the ids decoded
      // from it keep pointing into it (Buffer's own slice() would not copy)
      this.children(cid, new Uint8Array(data), next)
    }
    this.result.blocks++
    this.result.bytes += length
    this.sinceCommit += length
    if (this.sinceCommit >= FETCH_COMMIT_BYTES) {
      this.sinceCommit = 0
      // in the background: waiting on fsync here stalls the stream, and the
      // final commit reports any failure anyway
      this.locked(async () => { await this.c.store.blockstore.commit(this.generation) }).catch(() => {})
    }
    this.progress(false)
    return length
  }

  private progress (force: boolean): void {
    const now = Date.now()
    if (this.options.onProgress == null || (!force && now - this.lastProgress < PROGRESS_INTERVAL_MS)) return
    this.lastProgress = now
    this.options.onProgress({ root: this.result.root, bytes: this.result.bytes, blocks: this.result.blocks, peers: this.active, totalBytes: this.totalBytes, presentBytes: this.presentBytes })
  }
}
