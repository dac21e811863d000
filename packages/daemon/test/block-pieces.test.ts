import { randomBytes } from 'node:crypto'
import type { Stream } from '@libp2p/interface'
import { MAX_FRAME_BYTES, MsgType, WireError, encodeMessage, type WireMessage } from '@mlp/proto'
import { describe, expect, it } from 'vitest'
import { channel } from '../src/net/streams.js'
import { RAW_CODEC } from '../src/store/constants.js'
import { PieceJoiner } from '../src/exchange/piece-joiner.js'
import { cidOf, matchesCid } from '../src/store/hash.js'

/** The bytes a sender puts on the wire for `msgs`: u32 length, then the frame. */
function wire (msgs: WireMessage[]): Uint8Array {
  return Buffer.concat(msgs.map((m) => {
    const body = encodeMessage(m)
    const prefix = Buffer.alloc(4)
    prefix.writeUInt32BE(body.length)
    return Buffer.concat([prefix, body])
  }))
}

/** A stream that delivers `bytes` cut at `cuts` (offsets), as a transport would. */
function streamOf (bytes: Uint8Array, cuts: number[]): Stream {
  const chunks: Uint8Array[] = []
  let at = 0
  for (const cut of [...cuts, bytes.length]) {
    chunks.push(bytes.slice(at, cut))
    at = cut
  }
  return {
    async * [Symbol.asyncIterator] () { yield * chunks },
    abort () {}
  } as unknown as Stream
}

async function receive (bytes: Uint8Array, cuts: number[]): Promise<WireMessage[]> {
  const out: WireMessage[] = []
  for await (const m of channel(streamOf(bytes, cuts), { maxFrameBytes: MAX_FRAME_BYTES }).messages()) out.push(m)
  return out
}

describe('a block received in pieces', () => {
  const data = randomBytes(200 * 1024)
  const cid = cidOf(RAW_CODEC, data)
  const block: WireMessage = { type: MsgType.Block, req: 7, cid: cid.bytes, data }

  it('keeps its pieces, and they hash and join to the block sent', async () => {
    // cuts inside the length prefix, inside the header, and through the data, as Noise's 64 KiB messages cut it
    const [msg] = await receive(wire([block]), [2, 9, 65_535, 131_070, 196_605])
    expect(msg.type).toBe(MsgType.Block)
    if (msg.type !== MsgType.Block) return
    expect(msg.req).toBe(7)
    expect(Buffer.from(msg.cid)).toEqual(Buffer.from(cid.bytes))
    expect(msg.parts?.length).toBeGreaterThan(1)
    expect(matchesCid(cid, new PieceJoiner().join(msg))).toBe(true)
    expect(Buffer.from(msg.data)).toEqual(data)
  })

  it('a piece with one byte changed no longer matches its id (control: the same pieces unchanged do)', async () => {
    const bytes = wire([block])
    const [good] = await receive(bytes, [70_000, 140_000])
    const bad = Buffer.from(bytes)
    bad[100_000] ^= 1
    const [worse] = await receive(bad, [70_000, 140_000])
    if (good.type !== MsgType.Block || worse.type !== MsgType.Block) throw new Error('not blocks')
    expect(good.parts?.length).toBeGreaterThan(1)
    expect(matchesCid(cid, new PieceJoiner().join(good))).toBe(true)
    expect(matchesCid(cid, new PieceJoiner().join(worse))).toBe(false)
  })

  it('a block inside one chunk is one array, and frames after it decode as before', async () => {
    const small = randomBytes(1000)
    const want: WireMessage = { type: MsgType.Want, req: 9, cids: [cid.bytes] }
    const msgs = await receive(wire([{ type: MsgType.Block, req: 1, cid: cidOf(RAW_CODEC, small).bytes, data: small }, block, want]), [1100])
    expect(msgs.map((m) => m.type)).toEqual([MsgType.Block, MsgType.Block, MsgType.Want])
    if (msgs[0].type !== MsgType.Block || msgs[1].type !== MsgType.Block) throw new Error('not blocks')
    expect(msgs[0].parts).toBeUndefined()
    expect(Buffer.from(msgs[0].data)).toEqual(small)
    expect(Buffer.from(msgs[1].data)).toEqual(data)
  })

  it('a block header whose id runs past its frame is refused', async () => {
    const frame = Buffer.from(wire([block]))
    // the id length byte claims 255 bytes in a frame of 20
    const body = Buffer.concat([Buffer.from([MsgType.Block, 0, 0, 0, 1, 255]), randomBytes(14)])
    const prefix = Buffer.alloc(4)
    prefix.writeUInt32BE(body.length)
    await expect(receive(Buffer.concat([prefix, body]), [8])).rejects.toThrow(WireError)
    // control: the well-formed frame cut at the same place decodes
    await expect(receive(frame, [8])).resolves.toHaveLength(1)
  })
})
