import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import * as dagPb from '@ipld/dag-pb'
import { UnixFS } from 'ipfs-unixfs'
import type { CID } from 'multiformats/cid'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { DAG_PB_CODEC, RAW_CODEC } from '../src/store/constants.js'
import { buildDirectory, decodeNode, type BlockSink, type Link } from '../src/store/dag.js'
import { HAMT_FANOUT, HAMT_MAX_DEPTH, hamtHash, readShardedDirectory, type ShardLink } from '../src/store/hamt.js'
import { cidOf } from '../src/store/hash.js'
import { openStore, type Store } from '../src/store/index.js'

const leafBytes = new Uint8Array([1])
const leaf = cidOf(RAW_CODEC, leafBytes)
let dir: string
let store: Store
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mlp-hamt-'))
  store = await openStore(join(dir, 'store'))
  await store.blockstore.put(leaf, leafBytes)
})
afterAll(async () => {
  await store.close()
  await rm(dir, { recursive: true, force: true })
})

/** A sink into the test store that also counts the bytes of every block written. */
function storeSink (): { sink: BlockSink, bytes: () => number } {
  let total = 0
  return {
    sink: async (cid, bytes) => {
      total += bytes.length
      await store.blockstore.put(cid, bytes)
    },
    bytes: () => total
  }
}

/** `n` entries whose leaves are one-chunk files, stored, with their names and ids. */
async function entries (n: number, tag = 'f'): Promise<Array<{ name: string, link: Link }>> {
  const out: Array<{ name: string, link: Link }> = []
  const blocks: Array<[CID, Uint8Array]> = []
  for (let i = 0; i < n; i++) {
    const bytes = Buffer.from(`${tag}${i}\n`)
    const cid = cidOf(RAW_CODEC, bytes)
    blocks.push([cid, bytes])
    out.push({ name: `${tag}-${i}.txt`, link: { cid, size: bytes.length, tsize: bytes.length } })
  }
  await store.blockstore.putMany(blocks)
  return out
}

async function put (data: UnixFS, links: dagPb.PBLink[]): Promise<CID> {
  const bytes = dagPb.encode({ Data: data.marshal(), Links: links })
  const cid = cidOf(DAG_PB_CODEC, bytes)
  await store.blockstore.put(cid, bytes)
  return cid
}

function shardData (fanout = HAMT_FANOUT, hashType = 0x22): UnixFS {
  return new UnixFS({ type: 'hamt-sharded-directory', data: new Uint8Array(fanout / 8), fanout: BigInt(fanout), hashType: BigInt(hashType) })
}

function hex (bucket: number): string {
  return bucket.toString(16).toUpperCase().padStart(2, '0')
}

/** A one-level shard holding `names`, each in the bucket its hash leads to (or the one `bucketOf` says). */
async function shardOf (names: string[], bucketOf = (name: string) => hamtHash(name)[0]): Promise<CID> {
  const links = names.map((n) => ({ Name: hex(bucketOf(n)) + n, Hash: leaf, Tsize: 1 }))
  links.sort((a, b) => Buffer.compare(Buffer.from(a.Name), Buffer.from(b.Name)))
  return await put(shardData(), links)
}

async function readError (cid: CID): Promise<Error | undefined> {
  try {
    await store.exporter.checkTree(cid)
  } catch (err) {
    return err as Error
  }
  return undefined
}

describe('sharded directories', () => {
  it('a 5,000-entry directory over a low threshold shards, reads back every name and id, and is deterministic', async () => {
    const list = await entries(5000)
    const { sink, bytes } = storeSink()
    const root = await buildDirectory(list, sink, 4096)
    const top = decodeNode(root.cid, await store.blockstore.get(root.cid))
    expect(top.kind).toBe('hamt')
    // every block written is one shard node of at most 256 links: far below a wire frame
    expect(top.kind === 'hamt' ? top.links.length : 0).toBeLessThanOrEqual(HAMT_FANOUT)
    const listed = await store.exporter.list(root.cid)
    const want = [...list].sort((a, b) => Buffer.compare(Buffer.from(a.name), Buffer.from(b.name)))
    expect(listed.map((e) => [e.name, e.cid])).toEqual(want.map((e) => [e.name, e.link.cid.toString()]))
    // inside a parent, a sharded directory lists as a directory
    const parent = await buildDirectory([{ name: 'big', link: root }], storeSink().sink)
    expect(await store.exporter.list(parent.cid)).toEqual([{ name: 'big', cid: root.cid.toString(), kind: 'dir', size: 0 }])
    const walked = []
    for await (const item of store.exporter.walk(root.cid)) walked.push(item)
    expect(walked).toHaveLength(5001)
    expect(walked[0]).toMatchObject({ path: '', kind: 'dir' })
    expect(walked.slice(1).map((w) => w.path)).toEqual(want.map((e) => e.name))
    // Tsize of the root covers every shard node and every leaf
    const leafBytes = list.reduce((n, e) => n + e.link.tsize, 0)
    expect(root.tsize).toBe(bytes() + leafBytes)
    expect(await store.exporter.tsizeOf(root.cid)).toBe(root.tsize)
    // the shape depends only on the set of names: reversed input, same root
    const again = await buildDirectory([...list].reverse(), async () => {}, 4096)
    expect(again.cid.toString()).toBe(root.cid.toString())
  }, 60_000)

  it('stays flat under the threshold (positive control): the same 5,000 entries at the default size, and a small directory', async () => {
    const list = await entries(5000)
    const flat = await buildDirectory(list, storeSink().sink)
    expect(decodeNode(flat.cid, await store.blockstore.get(flat.cid)).kind).toBe('directory')
    const small = await buildDirectory(list.slice(0, 3), storeSink().sink, 4096)
    expect(decodeNode(small.cid, await store.blockstore.get(small.cid)).kind).toBe('directory')
    expect((await store.exporter.list(flat.cid)).map((e) => e.name)).toEqual((await store.exporter.list(await buildDirectory(list, storeSink().sink, 4096).then((l) => l.cid))).map((e) => e.name))
  }, 60_000)

  it('a valid hand-built shard reads back (control for the hostile cases)', async () => {
    const cid = await shardOf(['a.txt', 'b.txt', 'c.txt'])
    expect((await store.exporter.list(cid)).map((e) => e.name)).toEqual(['a.txt', 'b.txt', 'c.txt'])
  })
})

describe('hostile sharded directories are InvalidDagError', () => {
  const cases: Array<[string, () => Promise<CID>]> = [
    ['an entry named ..', async () => await shardOf(['..'])],
    ['an entry named .git', async () => await shardOf(['ok', '.git'])],
    ['an entry with a slash', async () => await shardOf(['a/../../x'])],
    ['a link name of one character', async () => await put(shardData(), [{ Name: '0', Hash: leaf, Tsize: 1 }])],
    ['a lowercase bucket', async () => await put(shardData(), [{ Name: `${hex(hamtHash('x')[0]).toLowerCase()}x`, Hash: leaf, Tsize: 1 }])],
    ['a sub-shard named with 3 hex characters', async () => await put(shardData(), [{ Name: '0AB', Hash: await shardOf(['x']), Tsize: 1 }])],
    ['a name in the wrong bucket', async () => await shardOf(['hello'], (n) => (hamtHash(n)[0] + 1) % 256)],
    ['the same bucket twice', async () => await put(shardData(), [{ Name: '05a', Hash: leaf, Tsize: 1 }, { Name: '05b', Hash: leaf, Tsize: 1 }])],
    ['two names equal but for case', async () => await shardOf(['Data.csv', 'data.csv'])],
    ['a fanout of 65536', async () => await put(shardData(65536), [])],
    ['another hash type', async () => await put(shardData(HAMT_FANOUT, 0x12), [])],
    ['a sub-shard that is a raw block', async () => await put(shardData(), [{ Name: '07', Hash: leaf, Tsize: 1 }])],
    ['a sub-shard that is a flat directory', async () => await put(shardData(), [{ Name: '07', Hash: await put(new UnixFS({ type: 'directory' }), []), Tsize: 1 }])],
    ['an empty sub-shard', async () => await put(shardData(), [{ Name: '07', Hash: await put(shardData(), []), Tsize: 1 }])],
    ['one sub-shard reused under every bucket', async () => {
      // valid under one bucket only; under the others its entries are in the wrong place
      const name = 'x.bin'
      const inner = await put(shardData(), [{ Name: hex(hamtHash(name)[1]) + name, Hash: leaf, Tsize: 1 }])
      return await put(shardData(), Array.from({ length: HAMT_FANOUT }, (_, b) => ({ Name: hex(b), Hash: inner, Tsize: 1 })))
    }],
    ['sub-shards deeper than the hash allows', async () => {
      let cid = await shardOf(['deep'])
      for (let i = 0; i < HAMT_MAX_DEPTH + 1; i++) cid = await put(shardData(), [{ Name: '00', Hash: cid, Tsize: 1 }])
      return cid
    }]
  ]

  it.each(cases)('%s', async (_, make) => {
    const cid = await make()
    const err = await readError(cid)
    expect(err?.name).toBe('InvalidDagError')
    expect(err?.message).toContain(cid.toString())
    expect(err?.message.split('\n')).toHaveLength(1)
  })

  it('a store that loops a sub-shard back to its parent stops at the depth bound', async () => {
    const root = await shardOf(['a', 'b'])
    const links: ShardLink[] = [{ bucket: 3, cid: root, tsize: 1 }]
    let loads = 0
    const loop = async (): Promise<ShardLink[]> => {
      loads++
      return links
    }
    await expect(readShardedDirectory(root, links, loop)).rejects.toMatchObject({ name: 'InvalidDagError' })
    expect(loads).toBeLessThan(HAMT_MAX_DEPTH)
  })
})
