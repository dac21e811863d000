import { randomBytes } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { CID } from 'multiformats/cid'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { RAW_CODEC } from '../src/store/constants.js'
import { cidOf } from '../src/store/hash.js'
import { openStore, type Store } from '../src/store/index.js'

let work: string
let store: Store
const blocks: Array<{ cid: CID, bytes: Buffer }> = []

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'mlp-get-many-'))
  store = await openStore(join(work, 'store'))
  // sizes from a few bytes to 3 MiB: runs of small blocks and spans that fill the bytes in flight
  for (let i = 0; i < 300; i++) {
    const bytes = randomBytes(i % 50 === 49 ? 3 * 1024 * 1024 : 1 + ((i * 7919) % 40_000))
    const cid = cidOf(RAW_CODEC, bytes)
    await store.blockstore.put(cid, bytes)
    blocks.push({ cid, bytes })
  }
  await store.blockstore.commit()
})
afterAll(async () => {
  await store.close()
  await rm(work, { recursive: true, force: true })
})

/** A deterministic shuffle (so a failure can be reproduced). */
function shuffled<T> (items: T[]): T[] {
  const out = [...items]
  let seed = 12345
  for (let i = out.length - 1; i > 0; i--) {
    seed = (seed * 1103515245 + 12345) % 2147483648
    const j = seed % (i + 1)
    ;[out[i], out[j]] = [out[j], out[i]]
  }
  return out
}

describe('getMany', () => {
  it('gives every block in the order asked, stored order (control) and shuffled, with absent ones as errors in place', async () => {
    const absent = (n: number): { cid: CID, bytes?: Buffer } => ({ cid: cidOf(RAW_CODEC, Buffer.from(`absent ${n}`)) })
    for (const asked of [blocks, shuffled([...blocks, absent(1), absent(2), absent(3)])]) {
      const got: Array<{ cid: CID, bytes?: Buffer, error?: Error }> = []
      for await (const r of store.blockstore.getMany(asked.map((b) => b.cid))) got.push(r)
      expect(got.map((r) => r.cid.toString())).toEqual(asked.map((b) => b.cid.toString()))
      for (let i = 0; i < asked.length; i++) {
        const want = asked[i].bytes
        if (want == null) {
          expect(got[i].bytes).toBeUndefined()
          expect(got[i].error?.name).toBe('BlockNotFoundError')
        } else {
          expect(got[i].error).toBeUndefined()
          expect(Buffer.compare(got[i].bytes as Buffer, want)).toBe(0)
        }
      }
    }
  })
})
