import { randomBytes } from 'node:crypto'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { findCut } from '../src/store/chunker.js'
// the worker thread runs compiled JavaScript: test the built module (npm test builds first)
import { chunkFile } from '../dist/store/chunk-stream.js'

const dir = await mkdtemp(join(tmpdir(), 'mlp-chunk-'))
afterAll(async () => { await rm(dir, { recursive: true, force: true }) })

function referenceCuts (data: Buffer): number[] {
  const out: number[] = []
  for (let pos = 0; pos < data.length;) {
    const cut = findCut(data, pos, data.length, true)
    out.push(cut)
    pos += cut
  }
  return out
}

describe('chunking on a worker thread', () => {
  it('cuts a file exactly where chunking it in one piece does, across many small reads', async () => {
    // repeated regions and a tail shorter than a chunk make cut points land near buffer edges
    const unit = randomBytes(3_000_000)
    const data = Buffer.concat([unit, randomBytes(5_000_123), unit, unit.subarray(0, 40_000)])
    const path = join(dir, 'data.bin')
    await writeFile(path, data)
    const lengths: number[] = []
    const pieces: Buffer[] = []
    for await (const seg of chunkFile(path, { readBytes: 1024 * 1024, buffers: 3 })) {
      let at = seg.start
      for (const len of seg.lengths) {
        pieces.push(Buffer.from(seg.buffer.subarray(at, at + len)))
        at += len
      }
      lengths.push(...seg.lengths)
      seg.release()
    }
    expect(lengths).toEqual(referenceCuts(data))
    expect(Buffer.concat(pieces).equals(data)).toBe(true)
  })

  it('an empty file gives no chunks', async () => {
    const path = join(dir, 'empty.bin')
    await writeFile(path, '')
    const segs = []
    for await (const seg of chunkFile(path, { readBytes: 1024 * 1024, buffers: 2 })) segs.push(seg)
    expect(segs).toEqual([])
  })

  it('a missing file fails with ENOENT, as a read on this thread would', async () => {
    const run = async (): Promise<void> => {
      for await (const seg of chunkFile(join(dir, 'nope.bin'), { readBytes: 1024 * 1024, buffers: 2 })) seg.release()
    }
    await expect(run()).rejects.toMatchObject({ code: 'ENOENT' })
  })

  it('an abort stops the stream', async () => {
    const path = join(dir, 'abort.bin')
    await writeFile(path, randomBytes(4_000_000))
    const ac = new AbortController()
    const run = async (): Promise<number> => {
      let n = 0
      for await (const seg of chunkFile(path, { readBytes: 512 * 1024, buffers: 2, signal: ac.signal })) {
        n++
        ac.abort()
        seg.release()
      }
      return n
    }
    await expect(run()).rejects.toThrow()
  })
})
