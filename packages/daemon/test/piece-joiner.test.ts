import { randomBytes } from 'node:crypto'
import { MsgType } from '@mlp/proto'
import { describe, expect, it } from 'vitest'
import { PieceJoiner } from '../src/exchange/piece-joiner.js'

function blockIn (pieces: Uint8Array[]): { type: typeof MsgType.Block, req: number, cid: Uint8Array, data: Uint8Array, parts: Uint8Array[] } {
  return { type: MsgType.Block, req: 1, cid: new Uint8Array([1]), data: Buffer.concat(pieces), parts: pieces }
}

describe('PieceJoiner', () => {
  it('joins pieces in order, small blocks and large, one after another', () => {
    const joiner = new PieceJoiner()
    for (const size of [100, 300_000, 5, 70_000]) {
      const whole = randomBytes(size)
      const cut = Math.floor(size / 3)
      expect(Buffer.from(joiner.join(blockIn([whole.subarray(0, cut), whole.subarray(cut)])))).toEqual(whole)
    }
  })

  it('a small block is not joined into memory Node hands to other code (its shared pool)', () => {
    const joiner = new PieceJoiner()
    const whole = randomBytes(100)
    const joined = joiner.join(blockIn([whole.subarray(0, 40), whole.subarray(40)]))
    // small unsafe allocations come from a shared pool: if the joined bytes lived there, these would overwrite them
    for (let i = 0; i < 200; i++) Buffer.allocUnsafe(64).fill(0xee)
    expect(Buffer.from(joined)).toEqual(whole)
  })

  it('a block that arrived whole is passed through as it is (control: pieces are copied)', () => {
    const joiner = new PieceJoiner()
    const data = randomBytes(1000)
    expect(joiner.join({ type: MsgType.Block, req: 1, cid: new Uint8Array([1]), data })).toBe(data)
    const pieces = [data.subarray(0, 10), data.subarray(10)]
    expect(joiner.join(blockIn(pieces))).not.toBe(data)
  })
})
