import { donate } from '../net/donated-bytes.js'
import { peerIdFromString } from '@libp2p/peer-id'
import type { Connection, PeerId, Stream } from '@libp2p/interface'
import { BlockNotFoundError, EXCHANGE_PROTOCOL, MAX_FRAME_BYTES, MsgType } from '@mlp/proto'
import { CID } from 'multiformats/cid'
import type { Logger } from '../logger.js'
import type { MlpNode } from '../net/node.js'
import { channel, type Channel } from '../net/streams.js'
import type { Store } from '../store/index.js'
import { StrangerScope } from '../trust/team-scope.js'
import { HAS_TIMEOUT_MS, MAX_INBOUND_STREAMS, STREAM_IDLE_MS } from './constants.js'
import type { Traffic } from './traffic.js'
import { deadline } from '../deadline.js'

/** Components of {@link Exchange}. */
export interface ExchangeComponents {
  node: MlpNode
  store: Store
  log: Logger
  traffic: Traffic
  /** Teammates read any block and get true `Has` answers; strangers only what {@link StrangerScope} allows. */
  isTeammate: (peer: string) => boolean
  /** Whether `peer` may start a walk at this cid (as `CID.toString()` gives it): a root published with `mlp share`, or one we asked it to keep a copy of. */
  isShared: (cid: string, peer: string) => boolean
}

/** Strangers whose walk down from shared roots is remembered at once. */
export const MAX_STRANGER_SCOPES = 64
/** A stranger's walk is forgotten after this long without a request. */
export const STRANGER_SCOPE_IDLE_MS = 60 * 60 * 1000

/** An open request stream to one peer. */
export interface PeerSession {
  peer: string
  channel: Channel
}

/**
 * The block exchange protocol: serves blocks from the local store to peers
 * (each one verified on read, so a corrupt local block is reported missing
 * rather than passed on), and opens sessions to peers for the fetcher.
 * A teammate may read any block; a stranger only shared roots and what
 * blocks already served to it link to (remembered per peer, across its connections). Anything else is answered
 * exactly as an absent block is, so a stranger learns nothing of it.
 */
export class Exchange {
  private nextReq = 1
  /**
   * What each stranger may ask for, by peer id, least recently used first:
   * kept across its connections so that a fetch interrupted by a restart of
   * the fetcher resumes below the nodes it already holds; at most
   * {@link MAX_STRANGER_SCOPES} strangers, each forgotten after
   * {@link STRANGER_SCOPE_IDLE_MS} without a request.
   */
  private readonly scopes = new Map<string, { scope: StrangerScope, at: number }>()

  constructor (private readonly c: ExchangeComponents) {}

  async start (): Promise<void> {
    await this.c.node.handle(EXCHANGE_PROTOCOL, async (stream: Stream, connection: Connection) => {
      const peer = connection.remotePeer.toString()
      await this.serve(stream, peer, this.scopeOf(peer))
    }, { maxInboundStreams: MAX_INBOUND_STREAMS })
  }

  async stop (): Promise<void> {
    await this.c.node.unhandle(EXCHANGE_PROTOCOL)
  }

  /** The stranger scope of `peer`, made fresh when it has none or its old one went idle. */
  private scopeOf (peer: string): StrangerScope {
    const now = Date.now()
    const held = this.scopes.get(peer)
    this.scopes.delete(peer)
    const scope = held != null && now - held.at < STRANGER_SCOPE_IDLE_MS ? held.scope : new StrangerScope((cid) => this.c.isShared(cid, peer))
    this.scopes.set(peer, { scope, at: now })
    // many peer ids are cheap to make: the oldest scope goes, and that stranger walks down from a shared root again
    if (this.scopes.size > MAX_STRANGER_SCOPES) this.scopes.delete(this.scopes.keys().next().value as string)
    return scope
  }

  /** A fresh request id. */
  req (): number {
    this.nextReq = (this.nextReq + 1) >>> 0
    return this.nextReq
  }

  private wrap (stream: Stream, peer: string, idleTimeoutMs?: number): Channel {
    return channel(stream, { maxFrameBytes: MAX_FRAME_BYTES, idleTimeoutMs, onBytes: (dir, n) => { this.c.traffic.add(peer, dir, n) } })
  }

  private async serve (stream: Stream, peer: string, scope: StrangerScope): Promise<void> {
    const ch = this.wrap(stream, peer, STREAM_IDLE_MS)
    const { blockstore } = this.c.store
    try {
      for await (const msg of ch.messages()) {
        // asked per message: `mlp team add|rm` applies to open streams too
        const limit = this.c.isTeammate(peer) ? undefined : scope
        if (msg.type === MsgType.Want) {
          await this.serveWant(ch, msg.req, msg.cids, peer, limit)
        } else if (msg.type === MsgType.Has) {
          const cids = msg.cids.map((b) => CID.decode(b))
          const have = await blockstore.hasMany(cids)
          await ch.send({ type: MsgType.Have, req: msg.req, have: limit == null ? have : have.map((h, i) => h && limit.allows(cids[i])) })
        } else {
          throw new Error(`unexpected message type ${msg.type} from a requester`)
        }
      }
      await ch.close()
    } catch (err) {
      this.c.log.warn('closing exchange stream', { peer, error: (err as Error).message })
      ch.abort(err as Error)
    }
  }

  /**
   * Sends the wanted blocks in order; MISSING for one that is absent, fails
   * verification, or is out of a stranger's `scope` (not even read, so
   * timing says nothing either).
   */
  private async serveWant (ch: Channel, req: number, ids: Uint8Array[], peer: string, scope?: StrangerScope): Promise<void> {
    if (scope != null) {
      // In order, in runs: a block served earlier in this request may grant a
      // later one, so a run ends at the first id not allowed yet, which is
      // asked again once the run is served. One store read per run, not per
      // block: one by one, a stranger's fetch waited on an index round trip
      // for every block (13,750 of them for 1 GiB).
      let i = 0
      while (i < ids.length) {
        const run: CID[] = []
        while (i + run.length < ids.length) {
          const cid = CID.decode(ids[i + run.length])
          if (!scope.allows(cid)) break
          run.push(cid)
        }
        if (run.length > 0) {
          await this.sendBlocks(ch, req, ids.slice(i, i + run.length), run, peer, scope)
          i += run.length
        } else {
          // not allowed even with everything before it served: not read at all
          await this.sendBlocks(ch, req, [ids[i]], [], peer, scope)
          i++
        }
      }
      return
    }
    await this.sendBlocks(ch, req, ids, ids.map((b) => CID.decode(b)), peer)
  }

  /**
   * Sends `cids` (read from the store) as BLOCK or MISSING, then MISSING for
   * the rest of `ids`. Only verified bytes go out: a block that fails its
   * check is answered MISSING, as an honest peer with a bad sector should
   * (sending it would get us dropped as a liar); the read also quarantined
   * it, so our next HAS says we lack it and a fetch of ours can heal it.
   */
  private async sendBlocks (ch: Channel, req: number, ids: Uint8Array[], cids: CID[], peer: string, scope?: StrangerScope): Promise<void> {
    let i = 0
    for await (const r of this.c.store.blockstore.getMany(cids)) {
      const bytes = ids[i++]
      if (r.error?.name === 'CorruptBlockError') this.c.log.error('not serving a corrupt block', { cid: r.cid.toString(), peer })
      if (r.bytes != null) {
        scope?.served(r.cid, r.bytes)
        // read for this request alone and not read again: Noise may encrypt it in place
        donate(r.bytes)
      }
      await ch.send(r.bytes == null ? { type: MsgType.Missing, req, cid: bytes } : { type: MsgType.Block, req, cid: bytes, data: r.bytes })
    }
    for (; i < ids.length; i++) await ch.send({ type: MsgType.Missing, req, cid: ids[i] })
  }

  /** Opens a request stream to a connected peer. */
  async open (peer: string, signal?: AbortSignal): Promise<PeerSession> {
    const stream = await this.c.node.dialProtocol(peerIdFromString(peer), EXCHANGE_PROTOCOL, { signal })
    return { peer, channel: this.wrap(stream, peer) }
  }

  /** Whether `peer` has an open connection to this daemon. */
  isConnected (peer: string): boolean {
    return this.c.node.getPeers().some((p: PeerId) => p.toString() === peer)
  }

  /** Asks every connected peer (or the given ones) which of `cids` it holds; peers that fail to answer are left out. */
  async whoHas (cids: CID[], options: { signal?: AbortSignal, peers?: string[] } = {}): Promise<Map<string, boolean[]>> {
    const peers = options.peers ?? this.c.node.getPeers().map((p: PeerId) => p.toString())
    const out = new Map<string, boolean[]>()
    await Promise.all(peers.map(async (peer) => {
      const signal = deadline(HAS_TIMEOUT_MS, options.signal)
      let session: PeerSession | undefined
      try {
        session = await this.open(peer, signal)
        const req = this.req()
        await session.channel.send({ type: MsgType.Has, req, cids: cids.map((c) => c.bytes) })
        const { value: msg } = await session.channel.messages().next()
        if (msg?.type === MsgType.Have && msg.req === req && msg.have.length === cids.length) out.set(peer, msg.have)
      } catch (err) {
        this.c.log.debug('HAS failed', { peer, error: (err as Error).message })
      } finally {
        await session?.channel.close()
      }
    }))
    return out
  }

  /**
   * Peers that hold `root`: connected peers are asked directly (the fast path
   * on a LAN); when none has it, `lookup` (the DHT) names more peers to ask.
   * Retried until `timeoutMs`, so peers still connecting count.
   */
  async findProviders (root: CID, options: { signal?: AbortSignal, timeoutMs: number, lookup?: () => Promise<string[]> }): Promise<string[]> {
    const deadline = Date.now() + options.timeoutMs
    let asked = 0
    for (;;) {
      options.signal?.throwIfAborted()
      const answers = await this.whoHas([root], { signal: options.signal })
      asked = Math.max(asked, answers.size)
      let have = [...answers].filter(([, h]) => h[0]).map(([peer]) => peer)
      if (have.length === 0 && options.lookup != null) {
        const more = (await options.lookup()).filter((p) => !answers.has(p))
        if (more.length > 0) {
          const asked = await this.whoHas([root], { signal: options.signal, peers: more })
          have = [...asked].filter(([, h]) => h[0]).map(([peer]) => peer)
        }
      }
      if (have.length > 0) return have
      if (Date.now() >= deadline) break
      await new Promise((resolve) => setTimeout(resolve, 500))
    }
    throw new BlockNotFoundError(`no peer has ${root.toString()}: asked ${asked} connected peer(s) for ${Math.round(options.timeoutMs / 1000)} s; check \`mlp peers\`, and that its holder shared it (\`mlp share\`) or counts this machine as a teammate`)
  }
}
