import { randomBytes } from 'node:crypto'
import { mkdtemp } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import * as dagPb from '@ipld/dag-pb'
import { MsgType, type WireMessage } from '@mlp/proto'
import { UnixFS } from 'ipfs-unixfs'
import { CID } from 'multiformats/cid'
import { afterEach, describe, expect, it } from 'vitest'
import type { Exchange } from '../src/exchange/exchange.js'
import { fetchDag } from '../src/exchange/fetch.js'
import type { Logger } from '../src/logger.js'
import type { Channel } from '../src/net/streams.js'
import { DAG_PB_CODEC, RAW_CODEC } from '../src/store/constants.js'
import { cidOf } from '../src/store/hash.js'
import { openStore, type Store } from '../src/store/index.js'

/** A file of `n` raw leaves of 1 KiB under one dag-pb node. */
function smallDag (n: number): { root: CID, blocks: Map<string, Uint8Array> } {
  const blocks = new Map<string, Uint8Array>()
  const leaves = Array.from({ length: n }, () => {
    const data = randomBytes(1024)
    const cid = cidOf(RAW_CODEC, data)
    blocks.set(cid.toString(), data)
    return cid
  })
  const bytes = dagPb.encode({ Data: new UnixFS({ type: 'file', blockSizes: leaves.map(() => 1024n) }).marshal(), Links: leaves.map((Hash) => ({ Hash, Tsize: 1024 })) })
  const root = cidOf(DAG_PB_CODEC, bytes)
  blocks.set(root.toString(), bytes)
  return { root, blocks }
}

/** How a fake peer behaves. */
interface FakePeer {
  blocks: Map<string, Uint8Array>
  /** Opening a stream to it fails this many more times (a peer too busy to answer). */
  failOpens: number
  connected: boolean
  /** Blocks it answers MISSING for although it has the root. */
  lacks: Set<string>
  opens: number
  /** Every block it sends arrives in two pieces, as a block split across Noise messages does. */
  pieces?: boolean
}

/** `data` as the channel delivers a block split in two pieces (fresh copies, as the wire gives them). */
function inPieces (req: number, cid: Uint8Array, data: Uint8Array): WireMessage {
  const cut = Math.max(1, data.length >> 1)
  const parts = [new Uint8Array(data.subarray(0, cut)), new Uint8Array(data.subarray(cut))]
  return { type: MsgType.Block, req, cid, parts, get data () { return new Uint8Array(Buffer.concat(parts)) } }
}

/** A file of `nodes` dag-pb nodes under a root, each over `leaves` raw leaves of 1 KiB. */
function twoLevelDag (nodes: number, leaves: number): { root: CID, blocks: Map<string, Uint8Array> } {
  const blocks = new Map<string, Uint8Array>()
  const node = (links: CID[], sizes: number[]): CID => {
    const bytes = dagPb.encode({ Data: new UnixFS({ type: 'file', blockSizes: sizes.map(BigInt) }).marshal(), Links: links.map((Hash, i) => ({ Hash, Tsize: sizes[i] })) })
    const cid = cidOf(DAG_PB_CODEC, bytes)
    blocks.set(cid.toString(), bytes)
    return cid
  }
  const middles = Array.from({ length: nodes }, () => node(Array.from({ length: leaves }, () => {
    const data = randomBytes(1024)
    const cid = cidOf(RAW_CODEC, data)
    blocks.set(cid.toString(), data)
    return cid
  }), Array.from({ length: leaves }, () => 1024)))
  return { root: node(middles, middles.map(() => leaves * 1024)), blocks }
}

/** An in-memory Exchange over fake peers: answers WANTs from their block maps. */
function fakeExchange (peers: Map<string, FakePeer>): Exchange {
  let req = 0
  const open = async (peer: string): Promise<{ peer: string, channel: Channel }> => {
    const p = peers.get(peer) as FakePeer
    p.opens++
    if (!p.connected) throw new Error('dial refused')
    if (p.failOpens > 0) {
      p.failOpens--
      throw new Error('stream open timed out')
    }
    const queue: WireMessage[] = []
    let wake: (() => void) | undefined
    let closed = false
    const channel: Channel = {
      async send (msg) {
        if (msg.type !== MsgType.Want) return
        for (const id of msg.cids) {
          const key = CID.decode(id).toString()
          const data = p.lacks.has(key) ? undefined : p.blocks.get(key)
          queue.push(data == null ? { type: MsgType.Missing, req: msg.req, cid: id } : p.pieces === true ? inPieces(msg.req, id, data) : { type: MsgType.Block, req: msg.req, cid: id, data })
        }
        wake?.()
      },
      async * messages () {
        for (let i = 0; i < 100_000; i++) {
          if (queue.length > 0) {
            yield queue.shift() as WireMessage
            continue
          }
          if (closed) return
          await new Promise<void>((resolve) => { wake = resolve })
        }
      },
      async close () { closed = true; wake?.() },
      abort () { closed = true; wake?.() }
    }
    return { peer, channel }
  }
  const whoHas = async (cids: CID[]): Promise<Map<string, boolean[]>> => {
    const out = new Map<string, boolean[]>()
    for (const [id, p] of peers) if (p.connected && p.failOpens === 0) out.set(id, cids.map((c) => p.blocks.has(c.toString())))
    return out
  }
  const fake = {
    req: () => ++req,
    open,
    whoHas,
    isConnected: (peer: string) => peers.get(peer)?.connected === true,
    findProviders: async () => [...peers.keys()]
  }
  return fake as unknown as Exchange
}

const quiet: Logger = { debug () {}, info () {}, warn () {}, error () {} }

let store: Store | undefined
afterEach(async () => {
  await store?.close()
  store = undefined
})

async function freshStore (): Promise<Store> {
  store = await openStore(join(await mkdtemp(join(tmpdir(), 'mlp-patience-')), 'store'))
  return store
}

function peer (blocks: Map<string, Uint8Array>, init: Partial<FakePeer> = {}): FakePeer {
  return { blocks, failOpens: 0, connected: true, lacks: new Set(), opens: 0, ...init }
}

describe('a fetch whose blocks arrive in pieces', () => {
  it('stores every block whole, and follows the links of nodes that came in pieces', async () => {
    const { root, blocks } = twoLevelDag(4, 50)
    const s = await freshStore()
    const r = await fetchDag({ exchange: fakeExchange(new Map([['seed', peer(blocks, { pieces: true })]])), store: s, log: quiet }, root)
    expect(r.blocks).toBe(blocks.size)
    for (const [key, bytes] of blocks) expect(Buffer.from(await s.blockstore.get(CID.parse(key)))).toEqual(Buffer.from(bytes))
  })
})

describe('a fetch whose peers fail or lack blocks', () => {
  it('positive control: a healthy peer serves the whole DAG', async () => {
    const { root, blocks } = smallDag(8)
    const s = await freshStore()
    const r = await fetchDag({ exchange: fakeExchange(new Map([['seed', peer(blocks)]])), store: s, log: quiet }, root)
    expect(r.blocks).toBe(9)
    expect(await s.blockstore.hasMany([...blocks.keys()].map((k) => CID.parse(k)))).toEqual([...blocks.keys()].map(() => true))
  })

  it('a sole seed that fails more often than a peer is allowed to, but stays connected, is waited for: the fetch completes', async () => {
    const { root, blocks } = smallDag(8)
    const seed = peer(blocks, { failOpens: 4 })
    const r = await fetchDag({ exchange: fakeExchange(new Map([['seed', seed]])), store: await freshStore(), log: quiet }, root)
    expect(r.blocks).toBe(9)
    // four failed opens, then the one that served (the first wave's root, then its leaves)
    expect(seed.opens).toBeGreaterThanOrEqual(5)
  }, 60_000)

  it('a sole seed whose connection is gone fails the fetch at once, naming it', async () => {
    const { root, blocks } = smallDag(8)
    const seed = peer(blocks, { connected: false })
    const err = await fetchDag({ exchange: fakeExchange(new Map([['seed', seed]])), store: await freshStore(), log: quiet }, root).catch((e: Error) => e)
    expect(err).toBeInstanceOf(Error)
    expect((err as Error).name).toBe('BlockNotFoundError')
    expect((err as Error).message).toMatch(/no reachable peer holds the rest of .*: 1 peer\(s\) failed and are no longer connected/)
    // tried a bounded number of times, not until the patience ran out
    expect(seed.opens).toBeLessThanOrEqual(3)
  }, 60_000)

  it('peers that answer they lack a block: a bounded number of retries, then a clear error naming the block', async () => {
    const { root, blocks } = smallDag(8)
    const lacking = [...blocks.keys()].find((k) => k !== root.toString()) as string
    const peers = new Map([['a', peer(blocks, { lacks: new Set([lacking]) })], ['b', peer(blocks, { lacks: new Set([lacking]) })]])
    const s = await freshStore()
    const err = await fetchDag({ exchange: fakeExchange(peers), store: s, log: quiet }, root).catch((e: Error) => e)
    expect((err as Error).name).toBe('BlockNotFoundError')
    expect((err as Error).message).toContain(`could give block ${lacking}`)
    // what did come is kept for the next try
    expect(await s.blockstore.has(root)).toBe(true)
  }, 60_000)
})
