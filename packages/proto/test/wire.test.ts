import { describe, expect, it } from 'vitest'
import { MAX_IDS_PER_MESSAGE, MsgType, WireError, decodeMessage, encodeMessage, type WireMessage } from '../src/index.js'

const id = (n: number): Uint8Array => new Uint8Array(36).fill(n)

describe('wire messages', () => {
  it('round-trips every message type', () => {
    const messages: WireMessage[] = [
      { type: MsgType.Want, req: 7, cids: [id(1), id(2)] },
      { type: MsgType.Block, req: 8, cid: id(3), data: new Uint8Array([1, 2, 3]) },
      { type: MsgType.Missing, req: 9, cid: id(4) },
      { type: MsgType.Has, req: 10, cids: [id(5)] },
      { type: MsgType.Have, req: 11, have: [true, false, true, true, false, false, false, false, true] },
      { type: MsgType.Replicate, req: 12, cids: [id(6)] },
      { type: MsgType.Result, req: 13, ok: true, message: 'done ✓' },
      { type: MsgType.RunCache, req: 14, key: 'a'.repeat(64) },
      { type: MsgType.Json, req: 15, json: '{"op":"run"}' }
    ]
    for (const m of messages) expect(decodeMessage(encodeMessage(m))).toEqual(m)
  })

  it('rejects malformed input with WireError, never anything else', () => {
    const good = encodeMessage({ type: MsgType.Want, req: 1, cids: [id(1)] })
    const bad = [
      new Uint8Array(0),
      new Uint8Array([99, 0, 0, 0, 1]),
      good.subarray(0, good.length - 3),
      new Uint8Array([...good, 0]),
      new Uint8Array([MsgType.Want, 0, 0, 0, 1, 0xff, 0xff]),
      new Uint8Array([MsgType.Missing, 0, 0, 0, 1, 0]),
      new Uint8Array([MsgType.RunCache, 0, 0, 0, 1, 0, 0x41])
    ]
    for (const b of bad) expect(() => decodeMessage(b)).toThrow(WireError)
    // seeded random bytes: only WireError, no crash, no hang
    let seed = 42
    const rand = (): number => { seed = (seed * 1103515245 + 12345) % 2147483648; return seed }
    for (let i = 0; i < 5000; i++) {
      const buf = new Uint8Array(rand() % 64).map(() => rand() % 256)
      if (buf.length > 0) buf[0] = 1 + (rand() % 10)
      try {
        decodeMessage(buf)
      } catch (err) {
        expect(err).toBeInstanceOf(WireError)
      }
    }
    expect(() => encodeMessage({ type: MsgType.Want, req: 1, cids: Array.from({ length: MAX_IDS_PER_MESSAGE + 1 }, () => id(1)) })).toThrow(WireError)
  })
})
