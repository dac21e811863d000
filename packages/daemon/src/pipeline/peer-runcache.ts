import { peerIdFromString } from '@libp2p/peer-id'
import { MAX_FRAME_BYTES, MsgType } from '@mlp/proto'
import { CID } from 'multiformats/cid'
import type { Exchange } from '../exchange/exchange.js'
import { fetchDag } from '../exchange/fetch.js'
import type { Providers } from '../exchange/providers.js'
import type { Logger } from '../logger.js'
import type { MlpNode } from '../net/node.js'
import { handleRequests } from '../net/request-handler.js'
import { channel } from '../net/streams.js'
import type { Store } from '../store/index.js'
import { isSignedResult } from '../trust/results.js'
import type { RunCache, RunCacheEntry } from './runcache.js'
import { complete } from './state.js'
import { deadline } from '../deadline.js'

/** libp2p protocol id of run cache queries. */
export const RUNCACHE_PROTOCOL = '/mlp/runcache/1.0.0'
/** How long a peer may take to answer a run cache query. */
const QUERY_TIMEOUT_MS = 3_000

/** Components of {@link PeerRunCacheService}. */
export interface PeerRunCacheComponents {
  node: MlpNode
  store: Store
  runCache: RunCache
  exchange: Exchange
  providers?: Providers
  log: Logger
  /** Whether `peer` is a teammate (trust/team-policy.ts): only teammates are told run cache entries. */
  isTeammate: (peer: string) => boolean
}

/**
 * A shared run cache: answers teammates' queries for stage keys this daemon has
 * outputs for (only when every block of them is here), and asks connected
 * peers before a stage runs, fetching the outputs of the first that has them.
 * An answer is a signed result, passed on as its executor signed it: the
 * asker believes it only if the signer holds `--results` there, whoever
 * relayed it, so one teammate can serve another's trusted results.
 */
export class PeerRunCacheService {
  constructor (private readonly c: PeerRunCacheComponents) {}

  async start (): Promise<void> {
    await handleRequests(this.c.node, RUNCACHE_PROTOCOL, 8, async (msg, peer) => {
      if (msg.type !== MsgType.RunCache) throw new Error('expected a RUNCACHE query')
      // an entry names outputs, sizes and who ran what when: a stranger who knows a key (from a public mlp.lock) gets a miss
      if (!this.c.isTeammate(peer)) return { type: MsgType.Result, req: msg.req, ok: false, message: '' }
      const entry = await this.c.runCache.get(msg.key)
      // unsigned (old) entries are useless to a peer: it would not believe them
      const usable = isSignedResult(entry) && (await Promise.all(entry.outs.map(async (o) => await complete(this.c.store, o.cid)))).every(Boolean)
      if (usable) this.c.log.info('served a run cache entry', { peer, key: msg.key })
      return { type: MsgType.Result, req: msg.req, ok: usable, message: usable ? JSON.stringify(entry) : '' }
    })
  }

  async stop (): Promise<void> {
    await this.c.node.unhandle(RUNCACHE_PROTOCOL)
  }

  /** Asks every connected peer for `key`; fetches the outputs of the first believed answer. */
  async query (key: string, signal?: AbortSignal): Promise<{ entry: RunCacheEntry, peer: string } | undefined> {
    const peers = this.c.node.getPeers().map((p) => p.toString())
    const answers = await Promise.all(peers.map(async (peer) => await this.ask(peer, key, signal)))
    for (let i = 0; i < peers.length; i++) {
      const entry = answers[i]
      if (entry == null) continue
      if (!await this.c.runCache.believes(key, entry)) {
        this.c.log.warn('ignored a run cache answer: not signed by this machine or a peer it trusts with --results', { peer: peers[i], signer: entry.ranOn, key })
        continue
      }
      try {
        for (const o of entry.outs) await fetchDag(this.c, CID.parse(o.cid), { signal })
        return { entry, peer: peers[i] }
      } catch (err) {
        this.c.log.warn('could not fetch outputs named by a peer\'s run cache', { peer: peers[i], error: (err as Error).message })
      }
    }
    return undefined
  }

  private async ask (peer: string, key: string, signal?: AbortSignal): Promise<RunCacheEntry | undefined> {
    const timeout = deadline(QUERY_TIMEOUT_MS, signal)
    try {
      const stream = await this.c.node.dialProtocol(peerIdFromString(peer), RUNCACHE_PROTOCOL, { signal: timeout })
      const ch = channel(stream, { maxFrameBytes: MAX_FRAME_BYTES })
      await ch.send({ type: MsgType.RunCache, req: this.c.exchange.req(), key })
      const { value: reply } = await ch.messages().next()
      await ch.close()
      if (reply?.type !== MsgType.Result || !reply.ok) return undefined
      const entry = JSON.parse(reply.message) as unknown
      return isSignedResult(entry) ? entry : undefined
    } catch {
      return undefined
    }
  }
}
