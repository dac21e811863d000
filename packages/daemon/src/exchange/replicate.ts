import { peerIdFromString } from '@libp2p/peer-id'
import type { Stream } from '@libp2p/interface'
import { DialError, MAX_FRAME_BYTES, MsgType } from '@mlp/proto'
import { CID } from 'multiformats/cid'
import type { Logger } from '../logger.js'
import type { MlpNode } from '../net/node.js'
import { channel } from '../net/streams.js'
import type { Store } from '../store/index.js'
import { pin } from '../tracking/pins.js'
import type { Exchange } from './exchange.js'
import { fetchDag } from './fetch.js'
import type { Providers } from './providers.js'
import { handleRequests } from '../net/request-handler.js'

/** libp2p protocol id of replication requests (`mlp push --to`). */
export const REPLICATE_PROTOCOL = '/mlp/replicate/1.0.0'

/** Components of {@link Replication}. */
export interface ReplicationComponents {
  node: MlpNode
  store: Store
  exchange: Exchange
  log: Logger
  providers?: Providers
}

/**
 * `mlp push --to`: asks a teammate's daemon to fetch DAGs (from us or anyone
 * else who has them) and pin them, so the data survives this machine being
 * switched off. The answer comes only once the copy is complete.
 */
export class Replication {
  constructor (private readonly c: ReplicationComponents) {}

  async start (): Promise<void> {
    await handleRequests(this.c.node, REPLICATE_PROTOCOL, 4, async (msg, peer) => {
      if (msg.type !== MsgType.Replicate) throw new Error('expected a REPLICATE message')
      let ok = true
      let message = ''
      try {
        for (const bytes of msg.cids) {
          const cid = CID.decode(bytes)
          const r = await fetchDag(this.c, cid)
          await pin(this.c.store, cid, `replica for ${peer}`)
          this.c.providers?.announce(cid)
          message += `${cid.toString()}: ${r.blocks} blocks fetched\n`
        }
        this.c.log.info('replicated for peer', { peer, roots: msg.cids.length })
      } catch (err) {
        ok = false
        message = (err as Error).message
      }
      return { type: MsgType.Result, req: msg.req, ok, message }
    })
  }

  async stop (): Promise<void> {
    await this.c.node.unhandle(REPLICATE_PROTOCOL)
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
    await ch.send({ type: MsgType.Replicate, req, cids: roots.map((r) => r.bytes) })
    const { value: reply } = await ch.messages().next()
    await ch.close()
    if (reply?.type !== MsgType.Result) throw new DialError(`${peer} closed the connection before confirming its copy`)
    if (!reply.ok) throw new DialError(`${peer} could not keep a copy: ${reply.message}`)
  }
}
