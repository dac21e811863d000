import { randomBytes } from 'node:crypto'
import { mkdtemp } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { CID } from 'multiformats/cid'
import { afterEach, beforeAll, describe, expect, it } from 'vitest'

// Packs of three 10 KB blocks: the pack size is read once, when the store's
// constants load, so it is set before the store is imported.
process.env.MLP_PACK_TARGET_BYTES = '30000'
const BLOCK = 10_000

type StoreModule = typeof import('../src/store/index.js')
type GcModule = typeof import('../src/store/gc.js')
let openStore: StoreModule['openStore']
let gc: GcModule
let cidOf: typeof import('../src/store/hash.js')['cidOf']
let RAW_CODEC: number
let store: Awaited<ReturnType<StoreModule['openStore']>> | undefined

beforeAll(async () => {
  ({ openStore } = await import('../src/store/index.js'))
  gc = await import('../src/store/gc.js')
  ;({ cidOf } = await import('../src/store/hash.js'))
  ;({ RAW_CODEC } = await import('../src/store/constants.js'))
})
afterEach(async () => {
  await store?.close()
  store = undefined
})

describe('shouldCompact: which packs gc rewrites', () => {
  it.each([
    { fileSize: 1000, live: 0, below: 0.5, expected: true, why: 'nothing live: the pack is just deleted' },
    { fileSize: 0, live: 0, below: 0.5, expected: true, why: 'an empty pack file goes' },
    { fileSize: 1000, live: 1000, below: 0.5, expected: false, why: 'no dead bytes' },
    { fileSize: 1000, live: 999, below: 1, expected: true, why: 'threshold 1: any dead byte' },
    { fileSize: 1000, live: 499, below: 0.5, expected: true, why: 'under half live' },
    { fileSize: 1000, live: 500, below: 0.5, expected: false, why: 'exactly half live is not below' },
    { fileSize: 1000, live: 900, below: 0.5, expected: false, why: 'one dead block in a big pack' },
    { fileSize: 1000, live: 1, below: 0, expected: false, why: 'threshold 0: only packs with nothing live' }
  ])('$why', ({ fileSize, live, below, expected }) => {
    expect(gc.shouldCompact(fileSize, live, below)).toBe(expected)
  })

  it('defaults to one half', () => {
    expect(gc.DEFAULT_COMPACT_BELOW).toBe(0.5)
    expect(gc.shouldCompact(1000, 400)).toBe(true)
    expect(gc.shouldCompact(1000, 600)).toBe(false)
  })
})

/** Nine 10 KB blocks in three packs (the third is the one being written). */
async function threePacks (): Promise<{ cids: CID[], packs: number[] }> {
  store = await openStore(join(await mkdtemp(join(tmpdir(), 'mlp-compact-')), 'store'))
  const cids: CID[] = []
  for (let i = 0; i < 9; i++) {
    const bytes = randomBytes(BLOCK)
    const cid = cidOf(RAW_CODEC, bytes)
    await store.blockstore.put(cid, bytes)
    cids.push(cid)
  }
  await store.blockstore.commit()
  const packs = await store.blockstore.packs.list()
  expect(packs).toHaveLength(3)
  return { cids, packs }
}

describe('gc compacts only packs mostly dead', () => {
  it('rewrites the pack one third live, leaves the pack two thirds live and reports its dead bytes', async () => {
    const { cids, packs } = await threePacks()
    const s = store as NonNullable<typeof store>
    // pack 0: two of three live; pack 1: one of three live; pack 2 is being written
    const roots = [cids[0], cids[1], cids[3], cids[6], cids[7], cids[8]]
    const recordOf = (cid: CID): number => BLOCK + 6 + cid.bytes.length
    const before = await s.blockstore.packs.fileSize(packs[0])

    const dry = await gc.collectGarbage(s.blockstore, roots, undefined, { dry: true })
    expect(dry).toMatchObject({ dry: true, removedBlocks: 3, compactedPacks: 0, uncompactedPacks: 1, uncompactedDeadBytes: recordOf(cids[2]), reclaimedBytes: recordOf(cids[4]) + recordOf(cids[5]) })

    const r = await gc.collectGarbage(s.blockstore, roots)
    expect(r).toMatchObject({ removedBlocks: 3, compactedPacks: 1, uncompactedPacks: 1, uncompactedDeadBytes: recordOf(cids[2]), compactBelow: 0.5 })
    // the summary adds up: what left the disk is pack 1's dead bytes, no more
    expect(r.reclaimedBytes).toBe(recordOf(cids[4]) + recordOf(cids[5]))
    expect((r.packBytesBefore ?? 0) - (r.packBytesAfter ?? 0)).toBe(r.reclaimedBytes)
    const after = await s.blockstore.packs.list()
    expect(after).toContain(packs[0])
    expect(after).not.toContain(packs[1])
    expect(await s.blockstore.packs.fileSize(packs[0])).toBe(before)
    for (const cid of roots) expect(await s.blockstore.has(cid)).toBe(true)
    expect((await s.blockstore.get(cids[3])).length).toBe(BLOCK)
    for (const cid of [cids[2], cids[4], cids[5]]) expect(await s.blockstore.has(cid)).toBe(false)
  })

  it('with compactBelow 1 rewrites every pack holding a dead byte (control)', async () => {
    const { cids, packs } = await threePacks()
    const s = store as NonNullable<typeof store>
    const roots = [cids[0], cids[1], cids[3], cids[6], cids[7], cids[8]]
    const r = await gc.collectGarbage(s.blockstore, roots, undefined, { compactBelow: 1 })
    expect(r).toMatchObject({ removedBlocks: 3, compactedPacks: 2, uncompactedPacks: 0, uncompactedDeadBytes: 0 })
    const after = await s.blockstore.packs.list()
    expect(after).not.toContain(packs[0])
    expect(after).not.toContain(packs[1])
    for (const cid of roots) expect((await s.blockstore.get(cid)).length).toBe(BLOCK)
  })
})

/** `n` random 10 KB blocks put (appended, not committed) into a fresh store. */
async function putBlocks (n: number): Promise<CID[]> {
  store = await openStore(join(await mkdtemp(join(tmpdir(), 'mlp-compact-')), 'store'))
  const cids: CID[] = []
  for (let i = 0; i < n; i++) {
    const bytes = randomBytes(BLOCK)
    const cid = cidOf(RAW_CODEC, bytes)
    await store.blockstore.put(cid, bytes)
    cids.push(cid)
  }
  return cids
}

describe('gc and the pack being written', () => {
  const recordOf = (cid: CID): number => BLOCK + 6 + cid.bytes.length

  it('a current pack mostly dead (what a fetch that failed on a full disk left) is sealed and rewritten', async () => {
    // pack 0: blocks 0-2, all live; the current pack: blocks 3-5, only 5 live
    const cids = await putBlocks(6)
    const s = store as NonNullable<typeof store>
    await s.blockstore.commit()
    const current = s.blockstore.packs.currentPack()
    const r = await gc.collectGarbage(s.blockstore, [cids[0], cids[1], cids[2], cids[5]])
    expect(r).toMatchObject({ removedBlocks: 2, compactedPacks: 1, heldInCurrentPack: 0 })
    expect(r.reclaimedBytes).toBe(recordOf(cids[3]) + recordOf(cids[4]))
    expect(await s.blockstore.packs.list()).not.toContain(current)
    expect(s.blockstore.packs.currentPack()).toBeGreaterThan(current)
    for (const cid of [cids[0], cids[1], cids[2], cids[5]]) expect((await s.blockstore.get(cid)).length).toBe(BLOCK)
    // the store goes on appending in its new pack, and the moved block survives a reopen
    const more = randomBytes(BLOCK)
    await s.blockstore.put(cidOf(RAW_CODEC, more), more)
    await s.blockstore.commit()
    const dir = s.blockstore.packs.dir
    await s.close()
    store = await openStore(join(dir, '..'))
    expect((await store.blockstore.get(cids[5])).length).toBe(BLOCK)
    expect(Buffer.from(await store.blockstore.get(cidOf(RAW_CODEC, more))).equals(more)).toBe(true)
  })

  it('a current pack mostly live is left as it is, its dead bytes reported (control)', async () => {
    const cids = await putBlocks(6)
    const s = store as NonNullable<typeof store>
    await s.blockstore.commit()
    const current = s.blockstore.packs.currentPack()
    const r = await gc.collectGarbage(s.blockstore, [cids[0], cids[1], cids[2], cids[4], cids[5]])
    expect(r).toMatchObject({ removedBlocks: 1, compactedPacks: 0, heldInCurrentPack: recordOf(cids[3]), reclaimedBytes: 0 })
    expect(s.blockstore.packs.currentPack()).toBe(current)
    expect(await s.blockstore.packs.list()).toContain(current)
  })

  it('blocks appended but not yet committed (a fetch between commits) are kept, even in a pack already full', async () => {
    // seven blocks, none committed: two full packs and the current one, all in no index entry
    const cids = await putBlocks(7)
    const s = store as NonNullable<typeof store>
    const roots = cids.slice(0, 6)
    const r = await gc.collectGarbage(s.blockstore, roots)
    for (const cid of roots) expect(Buffer.from(await s.blockstore.get(cid)).length).toBe(BLOCK)
    // the one no root reaches is swept like any other (control: gc still removes)
    expect(r.removedBlocks).toBe(1)
    expect(await s.blockstore.has(cids[6])).toBe(false)
    expect(await gc.collectGarbage(s.blockstore, roots)).toMatchObject({ removedBlocks: 0 })
    for (const cid of roots) expect(Buffer.from(await s.blockstore.get(cid)).length).toBe(BLOCK)
  })
})
