import { randomBytes } from 'node:crypto'
import { mkdtemp } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import * as dagPb from '@ipld/dag-pb'
import { UnixFS } from 'ipfs-unixfs'
import type { CID } from 'multiformats/cid'
import { afterEach, describe, expect, it } from 'vitest'
import { DAG_PB_CODEC, RAW_CODEC } from '../src/store/constants.js'
import { DiskFloor, freeFloorBytes, FREE_FLOOR_MAX_BYTES } from '../src/store/disk-floor.js'
import { collectGarbage, markReachable } from '../src/store/gc.js'
import { cidOf } from '../src/store/hash.js'
import { protectedRoots, protectRoot } from '../src/store/in-flight.js'
import { openStore, type Store } from '../src/store/index.js'

/** A file node linking `child` `times` times. */
function fileNode (child: CID, times: number, size: number): { cid: CID, bytes: Uint8Array } {
  const bytes = dagPb.encode({ Data: new UnixFS({ type: 'file', blockSizes: Array.from({ length: times }, () => BigInt(size)) }).marshal(), Links: Array.from({ length: times }, () => ({ Hash: child, Tsize: size })) })
  return { cid: cidOf(DAG_PB_CODEC, bytes), bytes }
}

let store: Store | undefined
afterEach(async () => {
  await store?.close()
  store = undefined
  delete process.env.MLP_FREE_FLOOR_BYTES
})

async function freshStore (): Promise<Store> {
  store = await openStore(join(await mkdtemp(join(tmpdir(), 'mlp-bounds-')), 'store'))
  return store
}

describe('walking a DAG bomb', () => {
  it('marks 4 blocks for 4 blocks whose levels link the level below 1,024 times (1024^3 paths)', async () => {
    const s = await freshStore()
    const leaf = randomBytes(16)
    const blocks: Array<[CID, Uint8Array]> = [[cidOf(RAW_CODEC, leaf), leaf]]
    for (let level = 0; level < 3; level++) {
      const node = fileNode(blocks[blocks.length - 1][0], 1024, 16)
      blocks.push([node.cid, node.bytes])
    }
    await s.blockstore.putMany(blocks)
    await s.blockstore.commit()
    const missing: CID[] = []
    const seen = await markReachable(s.blockstore, [blocks[3][0]], missing)
    expect(seen.size).toBe(4)
    expect(missing).toEqual([])
  })

  it('lists a missing block once, however many links name it', async () => {
    const s = await freshStore()
    const absent = cidOf(RAW_CODEC, randomBytes(16))
    const node = fileNode(absent, 1024, 16)
    await s.blockstore.put(node.cid, node.bytes)
    const missing: CID[] = []
    await markReachable(s.blockstore, [node.cid], missing)
    expect(missing.map(String)).toEqual([absent.toString()])
  })
})

describe('gc and fetches in flight', () => {
  it('keeps what a protected root reaches until it is released', async () => {
    const s = await freshStore()
    const leaf = randomBytes(1000)
    const leafCid = cidOf(RAW_CODEC, leaf)
    const node = fileNode(leafCid, 2, leaf.length)
    await s.blockstore.putMany([[node.cid, node.bytes], [leafCid, leaf]])
    await s.blockstore.commit()
    const release = protectRoot(s.blockstore, node.cid)
    expect(protectedRoots(s.blockstore).map(String)).toEqual([node.cid.toString()])
    const kept = await collectGarbage(s.blockstore, [])
    expect(kept).toMatchObject({ reachableBlocks: 2, removedBlocks: 0 })
    release()
    release()
    expect(protectedRoots(s.blockstore)).toEqual([])
    const swept = await collectGarbage(s.blockstore, [])
    expect(swept).toMatchObject({ reachableBlocks: 0, removedBlocks: 2 })
  })

  it('a malformed node under an in-flight root does not stop gc', async () => {
    const s = await freshStore()
    const junk = randomBytes(64)
    const junkCid = cidOf(DAG_PB_CODEC, junk)
    await s.blockstore.put(junkCid, junk)
    await s.blockstore.commit()
    const release = protectRoot(s.blockstore, junkCid)
    try {
      expect(await collectGarbage(s.blockstore, [])).toMatchObject({ reachableBlocks: 1, removedBlocks: 0 })
    } finally {
      release()
    }
  })
})

describe('free-disk floor', () => {
  it('is 5 % of a small filesystem and at most 256 MiB', () => {
    expect(freeFloorBytes(1000 * 1024 * 1024)).toBe(50 * 1024 * 1024)
    expect(freeFloorBytes(1024 ** 4)).toBe(FREE_FLOOR_MAX_BYTES)
    process.env.MLP_FREE_FLOOR_BYTES = '123'
    expect(freeFloorBytes(1024 ** 4)).toBe(123)
  })

  it('refuses bytes that would go below it, with the disk-full error', async () => {
    process.env.MLP_FREE_FLOOR_BYTES = String(Number.MAX_SAFE_INTEGER)
    const floor = new DiskFloor(tmpdir(), 'bafy-test')
    await expect(floor.reserve(80_000)).rejects.toMatchObject({ name: 'DiskFullError', message: expect.stringContaining('disk full while fetching bafy-test') })
  })

  it('lets bytes through while there is room', async () => {
    process.env.MLP_FREE_FLOOR_BYTES = '0'
    const floor = new DiskFloor(tmpdir(), 'bafy-test')
    let reserved = 0
    for (let i = 0; i < 1000; i++) {
      await floor.reserve(80_000)
      reserved += 80_000
    }
    expect(reserved).toBe(80_000_000)
  })
})
