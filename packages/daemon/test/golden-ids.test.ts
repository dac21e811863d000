import { createHash } from 'node:crypto'
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { blake3 } from '@napi-rs/blake-hash'
import { CID } from 'multiformats/cid'
import { afterEach, describe, expect, it } from 'vitest'
import { DEFAULT_CHUNKER, findCut } from '../src/store/chunker.js'
import { openStore, type Store } from '../src/store/index.js'

/**
 * Golden vectors: content ids are the product's contract with every teammate
 * and every commit of a pointer file or lock. A change to chunking, hashing
 * or DAG layout changes them, and with them every id already in git; these
 * fixed-seed inputs must keep their cut points and root ids, so such a change
 * cannot pass silently. (Values recorded from this implementation; a change
 * that means to alter them must say so and migrate.)
 */

/** `n` pseudo-random bytes from a fixed seed: SHA-256 in counter mode, the same on every machine. */
function seeded (seed: string, n: number): Buffer {
  const out = Buffer.alloc(n)
  for (let i = 0, at = 0; at < n; i++) {
    const block = createHash('sha256').update(`${seed}:${i}`).digest()
    at += block.copy(out, at)
  }
  return out
}

/** Every cut of `data` in one piece, as chunk lengths. */
function cuts (data: Uint8Array): number[] {
  const lengths: number[] = []
  for (let at = 0; at < data.length;) {
    const n = findCut(data, at, data.length, true, DEFAULT_CHUNKER)
    lengths.push(n)
    at += n
  }
  return lengths
}

let store: Store | undefined
afterEach(async () => {
  await store?.close()
  store = undefined
})

describe('golden content ids', () => {
  it('FastCDC cut points of a fixed 1 MiB input', () => {
    const lengths = cuts(seeded('mlp-golden-cdc', 1024 * 1024))
    expect(lengths.reduce((a, b) => a + b, 0)).toBe(1024 * 1024)
    expect(lengths).toEqual(GOLDEN_CUTS)
  })

  it('root ids of fixed files and a directory', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'mlp-golden-'))
    store = await openStore(join(dir, 'store'))
    const files: Record<string, Buffer> = {
      'empty.bin': Buffer.alloc(0),
      'small.txt': Buffer.from('hello mlp\n'),
      'one-chunk.bin': seeded('mlp-golden-one', 40_000),
      'multi.bin': seeded('mlp-golden-multi', 3 * 1024 * 1024 + 12_345)
    }
    await mkdir(join(dir, 'data', 'sub'), { recursive: true })
    const ids: Record<string, string> = {}
    for (const [name, bytes] of Object.entries(files)) {
      await writeFile(join(dir, name), bytes)
      ids[name] = (await store.importer.import(join(dir, name), name)).link.cid.toString()
    }
    await writeFile(join(dir, 'data', 'a.txt'), 'a\n')
    await writeFile(join(dir, 'data', 'sub', 'b.bin'), seeded('mlp-golden-dir', 300_000))
    ids.data = (await store.importer.import(join(dir, 'data'), 'data')).link.cid.toString()
    expect(ids).toEqual(GOLDEN_IDS)
    // independent of the store's code: a one-chunk file's id is the raw BLAKE3 of its bytes
    const digest = CID.parse(ids['small.txt']).multihash.digest
    expect(Buffer.from(digest).toString('hex')).toBe(blake3(files['small.txt']).toString('hex'))
  })
})

const GOLDEN_CUTS = [81964, 64601, 70224, 114512, 71452, 70719, 92249, 64657, 83504, 73121, 73427, 77704, 110442]
const GOLDEN_IDS: Record<string, string> = {
  data: 'bafyb4ib6lbea2ubu4wclxekxqq7ju5qifneuavrq5q7xd466i2w3pcl4ma',
  'empty.bin': 'bafkr4ifpcne3t5pzugtkaqcn5i3nzskjtpfslsnnyejlpte2spfoihzsmi',
  'multi.bin': 'bafyb4ihqf5qnri335ph6qkfyeldamn27r7newbuizsxsycywtcnofkbjjq',
  'one-chunk.bin': 'bafkr4ie6aex3cjcs5b2avpzycjvs2i3dlabtmrlcx4xvendqy6auaq6azm',
  'small.txt': 'bafkr4id66di63vodqxsw5k7xofbu5alqwx7ossdxzjrnqunlyxv6bvxlcm'
}
