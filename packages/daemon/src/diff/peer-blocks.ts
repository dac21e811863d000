import { MsgType } from '@mlp/proto'
import { CID } from 'multiformats/cid'
import { WANT_BATCH } from '../exchange/constants.js'
import type { Exchange, PeerSession } from '../exchange/exchange.js'
import type { Providers } from '../exchange/providers.js'
import type { Logger } from '../logger.js'
import { matchesCid } from '../store/hash.js'
import { LISTING_FIND_TIMEOUT_MS, LISTING_PEER_TIMEOUT_MS } from './constants.js'
import { deadline } from '../deadline.js'

/** What asking peers for single blocks needs. */
export interface PeerBlocksComponents {
  exchange: Exchange
  log: Logger
  /** DHT lookups, for holders that are not connected. */
  providers?: Providers
}

/**
 * Asks peers for a few named blocks, not the DAG below them (fetchDag's
 * job): a diff needs a directory's blocks and each file's root node, never
 * the file contents. Answers come back as a map by `CID.toString()`; every
 * block is hashed against its id first, and a peer that sends wrong bytes
 * is asked nothing more. Blocks nobody gave are simply absent.
 */
export type PeerBlocks = (root: CID, cids: CID[], signal?: AbortSignal) => Promise<Map<string, Uint8Array>>

/** A {@link PeerBlocks} over the block exchange: the peers holding `root` are asked, one after another, for what is still missing. */
export function peerBlocks (c: PeerBlocksComponents): PeerBlocks {
  return async (root, cids, signal) => {
    const got = new Map<string, Uint8Array>()
    let holders: string[]
    try {
      const lookup = c.providers == null ? undefined : async () => await (c.providers as Providers).find(root, signal)
      holders = await c.exchange.findProviders(root, { signal, timeoutMs: LISTING_FIND_TIMEOUT_MS, lookup })
    } catch (err) {
      signal?.throwIfAborted()
      c.log.debug('no peer holds a listing root', { root: root.toString(), error: (err as Error).message })
      return got
    }
    for (const peer of holders) {
      const wanted = cids.filter((cid) => !got.has(cid.toString()))
      if (wanted.length === 0) break
      try {
        await askPeer(c, peer, wanted, got, signal)
      } catch (err) {
        signal?.throwIfAborted()
        c.log.warn('peer failed to give listing blocks', { peer, root: root.toString(), error: (err as Error).message })
      }
    }
    return got
  }
}

/** Sends WANTs in batches of {@link WANT_BATCH} on one stream and files each verified answer in `got`. */
async function askPeer (c: PeerBlocksComponents, peer: string, wanted: CID[], got: Map<string, Uint8Array>, signal?: AbortSignal): Promise<void> {
  const timeout = deadline(LISTING_PEER_TIMEOUT_MS, signal)
  const session: PeerSession = await c.exchange.open(peer, timeout)
  const ch = session.channel
  const onAbort = (): void => { ch.abort(new Error('listing fetch timed out or was aborted')) }
  timeout.addEventListener('abort', onAbort, { once: true })
  try {
    const messages = ch.messages()
    for (let i = 0; i < wanted.length; i += WANT_BATCH) {
      const batch = new Map(wanted.slice(i, i + WANT_BATCH).map((cid) => [cid.toString(), cid]))
      const req = c.exchange.req()
      await ch.send({ type: MsgType.Want, req, cids: [...batch.values()].map((cid) => cid.bytes) })
      while (batch.size > 0) {
        const { value: msg, done } = await messages.next()
        if (done === true) throw new Error('peer closed the stream with requests outstanding')
        if ((msg.type !== MsgType.Block && msg.type !== MsgType.Missing) || msg.req !== req) throw new Error(`unexpected answer (type ${msg.type})`)
        const key = CID.decode(msg.cid).toString()
        const cid = batch.get(key)
        if (cid == null) throw new Error('answer to a block we did not ask for')
        batch.delete(key)
        if (msg.type === MsgType.Missing) continue
        // a liar's block is never believed, and nothing more is asked of it
        if (!matchesCid(cid, msg.data)) throw new Error(`sent bytes that do not match ${key}`)
        got.set(key, msg.data)
      }
    }
    await ch.close()
  } catch (err) {
    ch.abort(err as Error)
    throw err
  } finally {
    timeout.removeEventListener('abort', onAbort)
  }
}
