import { peerIdFromString } from '@libp2p/peer-id'
import type { Stream } from '@libp2p/interface'
import { DialError, MAX_FRAME_BYTES, MsgType, ReplicaRefusedError } from '@mlp/proto'
import { CID } from 'multiformats/cid'
import type { Logger } from '../logger.js'
import type { MlpNode } from '../net/node.js'
import { channel } from '../net/streams.js'
import type { Store } from '../store/index.js'
import { protectRoot } from '../store/in-flight.js'
import { pin } from '../tracking/pins.js'
import type { PushGrants } from '../trust/team-grants.js'
import { diskSpace, freeFloor, type ReplicaLedger } from '../trust/team-quota.js'
import type { Exchange } from './exchange.js'
import { fetchDag, type FetchProgress } from './fetch.js'
import type { Providers } from './providers.js'
import { handleRequests } from '../net/request-handler.js'

/** libp2p protocol id of replication requests (`mlp push --to`). */
export const REPLICATE_PROTOCOL = '/mlp/replicate/1.0.0'

/** GiB with one decimal, for messages. */
function gib (bytes: number): string {
  return `${(bytes / 1024 ** 3).toFixed(1)} GiB`
}

/** Why a copy was stopped: the quota or disk error it was aborted with. */
function refusal (signal: AbortSignal): Error {
  return signal.reason instanceof Error ? signal.reason : new ReplicaRefusedError(String(signal.reason))
}

/** Components of {@link Replication}. */
export interface ReplicationComponents {
  node: MlpNode
  store: Store
  exchange: Exchange
  log: Logger
  providers?: Providers
  /** Only teammates may ask for copies: a stranger could fill the disk. */
  isTeammate: (peer: string) => boolean
  /** Bytes of copies kept for each peer. */
  ledger: ReplicaLedger
  /** Bytes of copies one teammate may have kept here. */
  quotaBytes: number
  /** Free space a copy must leave on the store's disk (5 % of the disk at least). */
  minFreeBytes: number
  /** The store's directory, for the free-space check. */
  storeDir: string
  /** Lets the peer we push to read the pushed roots while it copies them (it may not be our teammate). */
  pushGrants: PushGrants
}

/**
 * `mlp push --to`: asks a teammate's daemon to fetch DAGs (from us or anyone
 * else who has them) and pin them, so the data survives this machine being
 * switched off. The answer comes only once the copy is complete. The
 * receiving side keeps copies only for teammates, within a per-peer quota
 * and a free-disk floor, both checked as the copy arrives.
 */
export class Replication {
  /** One replication at a time per peer, so two requests cannot both pass the quota check. */
  private readonly queues = new Map<string, Promise<unknown>>()

  constructor (private readonly c: ReplicationComponents) {}

  async start (): Promise<void> {
    await handleRequests(this.c.node, REPLICATE_PROTOCOL, 4, async (msg, peer) => {
      if (msg.type !== MsgType.Replicate) throw new Error('expected a REPLICATE message')
      if (!this.c.isTeammate(peer)) {
        this.c.log.warn('refused a copy for a stranger', { peer, roots: msg.cids.length })
        const self = this.c.node.peerId.toString()
        return { type: MsgType.Result, req: msg.req, ok: false, message: `refused: ${self} keeps copies only for teammates; ask its owner to run \`mlp team add ${peer}\` (or to share a swarm key with you)` }
      }
      const previous = this.queues.get(peer) ?? Promise.resolve()
      const mine = previous.then(async () => await this.replicate(peer, msg.cids.map((b) => CID.decode(b))))
      const settled = mine.catch(() => {})
      this.queues.set(peer, settled)
      try {
        const message = await mine
        return { type: MsgType.Result, req: msg.req, ok: true, message }
      } catch (err) {
        return { type: MsgType.Result, req: msg.req, ok: false, message: (err as Error).message }
      } finally {
        if (this.queues.get(peer) === settled) this.queues.delete(peer)
      }
    })
  }

  async stop (): Promise<void> {
    await this.c.node.unhandle(REPLICATE_PROTOCOL)
  }

  /** Fetches and pins `roots` for `peer`, charging each to its quota. */
  private async replicate (peer: string, roots: CID[]): Promise<string> {
    let message = ''
    for (const cid of roots) {
      const root = cid.toString()
      const allowed = this.c.quotaBytes - this.c.ledger.used(peer, root)
      await this.checkDisk(0)
      const stop = new AbortController()
      let last: FetchProgress | undefined
      // a DAG's size is known once its root arrives (from its links): checked
      // then, and again as blocks come, since a root may understate it
      const onProgress = (p: FetchProgress): void => {
        last = p
        const size = Math.max(p.totalBytes, p.presentBytes + p.bytes)
        if (size > allowed) {
          stop.abort(new ReplicaRefusedError(`refused: ${root} (${gib(size)}) is over ${peer}'s quota here: ${gib(Math.max(allowed, 0))} of ${gib(this.c.quotaBytes)} left (config key replicaQuota)`))
          return
        }
        this.checkDisk(Math.max(0, p.totalBytes - p.presentBytes - p.bytes)).catch((err: Error) => { stop.abort(err) })
      }
      if (allowed <= 0) throw new ReplicaRefusedError(`refused: ${peer} already has ${gib(this.c.ledger.used(peer))} of copies here, its whole quota (config key replicaQuota)`)
      let r
      // protected until pinned: fetchDag's own protection ends before the pin is written
      const release = protectRoot(this.c.store.blockstore, cid)
      try {
        try {
          r = await fetchDag(this.c, cid, { signal: stop.signal, onProgress })
        } catch (err) {
          throw stop.signal.aborted ? refusal(stop.signal) : err
        }
        // the last progress (at the end) may find it over: nothing is pinned then
        if (stop.signal.aborted) throw refusal(stop.signal)
        await pin(this.c.store, cid, `replica for ${peer}`)
      } finally {
        release()
      }
      await this.c.ledger.record(peer, root, Math.max(last?.totalBytes ?? 0, (last?.presentBytes ?? 0) + r.bytes))
      message += `${root}: ${r.blocks} blocks fetched\n`
    }
    this.c.log.info('replicated for peer', { peer, roots: roots.length })
    return message
  }

  /** Throws unless `more` bytes still fit above the free-disk floor. */
  private async checkDisk (more: number): Promise<void> {
    const { free, total } = await diskSpace(this.c.storeDir)
    const floor = freeFloor(total, this.c.minFreeBytes)
    if (free - more < floor) {
      throw new ReplicaRefusedError(`refused: the disk would have ${gib(Math.max(free - more, 0))} free, under the ${gib(floor)} kept free (config key replicaMinFree, at least 5% of the disk)`)
    }
  }

  /** Asks `peer` to keep a copy of `roots`; resolves once it holds them all. */
  async request (peer: string, roots: CID[], signal?: AbortSignal): Promise<void> {
    let stream: Stream
    try {
      stream = await this.c.node.dialProtocol(peerIdFromString(peer), REPLICATE_PROTOCOL, { signal })
    } catch (err) {
      throw new DialError(`cannot reach ${peer} to ask for a copy: ${(err as Error).message}`, { cause: err })
    }
    const ch = channel(stream, { maxFrameBytes: MAX_FRAME_BYTES })
    const req = this.c.exchange.req()
    const release = this.c.pushGrants.grant(peer, roots.map((r) => r.toString()))
    let reply
    try {
      await ch.send({ type: MsgType.Replicate, req, cids: roots.map((r) => r.bytes) })
      reply = (await ch.messages().next()).value
    } finally {
      release()
    }
    await ch.close()
    if (reply?.type !== MsgType.Result) throw new DialError(`${peer} closed the connection before confirming its copy`)
    if (!reply.ok) throw new ReplicaRefusedError(`${peer} did not keep a copy: ${reply.message}`)
  }
}
