import { describe, expect, it } from 'vitest'
import { CID } from 'multiformats/cid'
import { RevisionDataMissingError } from '@mlp/proto'
import { listTree, ListingBlocks } from '../src/diff/listing.js'
import type { PeerBlocks } from '../src/diff/peer-blocks.js'
import { RAW_CODEC } from '../src/store/constants.js'
import { buildDirectory, decodeNode, FileBuilder, type Link } from '../src/store/dag.js'
import { cidOf } from '../src/store/hash.js'
import type { Store } from '../src/store/index.js'

// listTree reads only directory blocks, sub-shards and file root nodes, from
// the store or, for what it lacks, from peers; never a file's leaves.

/** Blocks in a map, served as the store's getMany serves them. */
function mapStore (blocks: Map<string, Uint8Array>): Store {
  return {
    blockstore: {
      async * getMany (cids: CID[]) {
        for (const cid of cids) {
          const bytes = blocks.get(cid.toString())
          yield bytes == null ? { cid, error: new Error('absent') } : { cid, bytes }
        }
      }
    }
  } as unknown as Store
}

/** A directory of `n` one-chunk files and one file of three chunks, and every block of it. */
async function tree (n: number): Promise<{ root: Link, blocks: Map<string, Uint8Array>, leaves: Set<string> }> {
  const blocks = new Map<string, Uint8Array>()
  const leaves = new Set<string>()
  const sink = async (cid: CID, bytes: Uint8Array): Promise<void> => { blocks.set(cid.toString(), bytes) }
  const entries: Array<{ name: string, link: Link }> = []
  for (let i = 0; i < n; i++) {
    const bytes = new TextEncoder().encode(`file ${i}\n`)
    const cid = cidOf(RAW_CODEC, bytes)
    await sink(cid, bytes)
    entries.push({ name: `f${i}.txt`, link: { cid, size: bytes.length, tsize: bytes.length } })
  }
  const big = new FileBuilder(async (cid, bytes) => {
    await sink(cid, bytes)
    if (cid.code === RAW_CODEC) leaves.add(cid.toString())
  })
  for (let i = 0; i < 3; i++) await big.addChunk(new Uint8Array(1000).fill(i))
  entries.push({ name: 'big.bin', link: await big.finish() })
  const sub = await buildDirectory(entries, sink)
  const root = await buildDirectory([{ name: 'sub', link: sub }], sink)
  return { root, blocks, leaves }
}

const noHint = (): string => 'missing'

describe('listTree', { timeout: 30_000 }, () => {
  it('lists a flat directory from the store: sizes from root nodes, not Tsize', async () => {
    const t = await tree(5)
    const files = await listTree(new ListingBlocks(mapStore(t.blocks)), t.root.cid, 0, noHint)
    expect(files.size).toBe(6)
    expect(files.get('sub/f3.txt')?.size).toBe('file 3\n'.length)
    expect(files.get('sub/big.bin')?.size).toBe(3000)
  })

  it('lists a HAMT-sharded directory (thousands of entries) the same way', async () => {
    const t = await tree(6000)
    // the directory really is sharded
    expect([...t.blocks].some(([id, bytes]) => id.startsWith('bafyb') && decodeNode(CID.parse(id), bytes).kind === 'hamt')).toBe(true)
    const blocks = new ListingBlocks(mapStore(t.blocks))
    const files = await listTree(blocks, t.root.cid, 0, noHint)
    expect(files.size).toBe(6001)
    expect(files.get('sub/f5999.txt')?.size).toBe('file 5999\n'.length)
    // every entry counted once against the cap: the root, sub/, and its 6001 files
    expect(blocks.files).toBe(6003)
  })

  it('asks peers for what the store lacks, never for a file\'s leaves', async () => {
    const t = await tree(3000)
    const asked: string[] = []
    const peers: PeerBlocks = async (_root, cids) => {
      asked.push(...cids.map((c) => c.toString()))
      return new Map(cids.flatMap((c) => { const b = t.blocks.get(c.toString()); return b == null ? [] : [[c.toString(), b] as [string, Uint8Array]] }))
    }
    const blocks = new ListingBlocks(mapStore(new Map()), peers)
    const files = await listTree(blocks, t.root.cid, 0, noHint)
    expect(files.size).toBe(3001)
    expect(blocks.fetched).toBeGreaterThan(2)
    expect(asked.filter((c) => t.leaves.has(c))).toEqual([])
    // one-chunk files are raw leaves: their link gives the size, they are never asked for either
    expect(asked.some((c) => c.startsWith('bafk'))).toBe(false)
  })

  it('fails with the caller\'s message when neither store nor peers have a block', async () => {
    const t = await tree(3)
    const blocks = new ListingBlocks(mapStore(new Map()), async () => new Map())
    await expect(listTree(blocks, t.root.cid, 0, (root, missing) => `${root.toString()} lacks ${missing.length}`)).rejects.toThrow(RevisionDataMissingError)
    await expect(listTree(blocks, t.root.cid, 0, (root, missing) => `${root.toString()} lacks ${missing.length}`)).rejects.toThrow(`${t.root.cid.toString()} lacks 1`)
  })
})
