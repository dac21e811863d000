import { randomBytes } from 'node:crypto'
import { closeSync, openSync, readSync, writeSync } from 'node:fs'
import { mkdtemp } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import type { CID } from 'multiformats/cid'
import { RAW_CODEC } from '../src/store/constants.js'
import { cidOf } from '../src/store/hash.js'
import { openStore, type Store } from '../src/store/index.js'
import { verifyStore } from '../src/store/verify.js'

let store: Store | undefined
afterEach(async () => {
  await store?.close()
  store = undefined
})

/** A store holding `n` committed blocks of 1000 random bytes, stored next to each other in one pack. */
async function storeWith (n: number): Promise<{ s: Store, blocks: Array<{ cid: CID, bytes: Buffer }> }> {
  store = await openStore(join(await mkdtemp(join(tmpdir(), 'mlp-quarantine-')), 'store'))
  const blocks = Array.from({ length: n }, () => {
    const bytes = randomBytes(1000)
    return { cid: cidOf(RAW_CODEC, bytes), bytes }
  })
  await store.blockstore.putMany(blocks.map((b) => [b.cid, b.bytes]))
  await store.blockstore.commit()
  return { s: store, blocks }
}

/** Flips a byte in the middle of a block's data, in its pack on disk. */
async function flip (s: Store, cid: CID): Promise<void> {
  const loc = await s.index.getLocation(cid)
  if (loc == null) throw new Error('block not stored')
  const fd = openSync(s.packs.path(loc.pack), 'r+')
  try {
    const at = loc.offset + Math.floor(loc.length / 2)
    const byte = Buffer.alloc(1)
    readSync(fd, byte, 0, 1, at)
    byte[0] ^= 0xff
    writeSync(fd, byte, 0, 1, at)
  } finally {
    closeSync(fd)
  }
}

describe('a block that fails verification is quarantined', () => {
  it('get fails naming it, after which it counts as missing, with the reason kept', async () => {
    const { s, blocks: [good, bad] } = await storeWith(2)
    await flip(s, bad.cid)
    await expect(s.blockstore.get(bad.cid)).rejects.toThrow(`block ${bad.cid.toString()} is corrupt`)
    expect(await s.blockstore.has(bad.cid)).toBe(false)
    expect(await s.blockstore.hasMany([good.cid, bad.cid])).toEqual([true, false])
    expect((await s.index.getQuarantined(bad.cid))?.reason).toContain('no longer match its id')
    // a later read still says corrupt, not merely absent
    await expect(s.blockstore.get(bad.cid)).rejects.toMatchObject({ name: 'CorruptBlockError' })
    // control: the intact neighbour is untouched
    expect((await s.blockstore.get(good.cid)).equals(good.bytes)).toBe(true)
    expect(await s.index.getQuarantined(good.cid)).toBeUndefined()
  })

  it('getMany never yields wrong bytes: the bad block of a span comes back as its error', async () => {
    const { s, blocks } = await storeWith(5)
    await flip(s, blocks[2].cid)
    const got = []
    for await (const r of s.blockstore.getMany(blocks.map((b) => b.cid))) got.push(r)
    expect(got.map((r) => r.bytes != null)).toEqual([true, true, false, true, true])
    expect(got[2].error?.name).toBe('CorruptBlockError')
    for (const i of [0, 1, 3, 4]) expect(got[i].bytes?.equals(blocks[i].bytes)).toBe(true)
    expect(await s.blockstore.has(blocks[2].cid)).toBe(false)
  })

  it('a good copy stored again ends the quarantine', async () => {
    const { s, blocks: [bad] } = await storeWith(1)
    await flip(s, bad.cid)
    await expect(s.blockstore.get(bad.cid)).rejects.toThrow('is corrupt')
    expect(await s.blockstore.putMany([[bad.cid, bad.bytes]])).toBe(1)
    await s.blockstore.commit()
    expect((await s.blockstore.get(bad.cid)).equals(bad.bytes)).toBe(true)
    expect(await s.index.getQuarantined(bad.cid)).toBeUndefined()
  })

  it('is dropped only where the index still points: a newer copy is kept', async () => {
    const { s, blocks: [b] } = await storeWith(1)
    const old = await s.index.getLocation(b.cid)
    if (old == null) throw new Error('block not stored')
    await s.blockstore.relocate(b.cid, b.bytes)
    await s.blockstore.commit()
    expect(await s.index.quarantineBlock(b.cid, old, 'test')).toBe(false)
    expect(await s.blockstore.has(b.cid)).toBe(true)
    // control: at its current location it is dropped
    expect(await s.index.quarantineBlock(b.cid, await s.index.getLocation(b.cid) as typeof old, 'test')).toBe(true)
    expect(await s.blockstore.has(b.cid)).toBe(false)
  })

  it('verify reports a block quarantined earlier as corrupt while a root needs it', async () => {
    const { s, blocks: [b] } = await storeWith(1)
    await flip(s, b.cid)
    const first = await verifyStore(s.blockstore, [b.cid])
    expect(first).toMatchObject({ corrupt: [b.cid.toString()], missing: [] })
    const second = await verifyStore(s.blockstore, [b.cid])
    expect(second).toMatchObject({ checkedBlocks: 0, corrupt: [b.cid.toString()], missing: [] })
    // and as nothing once no root needs it
    expect(await verifyStore(s.blockstore, [])).toMatchObject({ corrupt: [], missing: [] })
  })
})

describe('gc and a quarantined DAG node', () => {
  it('stops, removing nothing, while a node under a root is quarantined; runs once a good copy is back', async () => {
    const dagPb = await import('@ipld/dag-pb')
    const { DAG_PB_CODEC } = await import('../src/store/constants.js')
    const { collectGarbage } = await import('../src/store/gc.js')
    const { s, blocks } = await storeWith(3)
    const node = dagPb.encode(dagPb.prepare({ Links: blocks.map((b) => ({ Hash: b.cid, Tsize: 1000 })) }))
    const root = cidOf(DAG_PB_CODEC, node)
    const garbage = { bytes: randomBytes(500) }
    const garbageCid = cidOf(RAW_CODEC, garbage.bytes)
    await s.blockstore.putMany([[root, node], [garbageCid, garbage.bytes]])
    await s.blockstore.commit()
    await flip(s, root)
    await expect(s.blockstore.get(root)).rejects.toMatchObject({ name: 'CorruptBlockError' })
    // the node's children are unreachable only because it is quarantined: gc must not take them
    await expect(collectGarbage(s.blockstore, [root])).rejects.toMatchObject({ name: 'QuarantinedNodeError' })
    expect(await s.blockstore.hasMany([...blocks.map((b) => b.cid), garbageCid])).toEqual([true, true, true, true])
    // a good copy stored again (what a repair does) ends the quarantine; gc then keeps the DAG and frees the garbage
    await s.blockstore.putMany([[root, node]])
    await s.blockstore.commit()
    const r = await collectGarbage(s.blockstore, [root])
    expect(r.removedBlocks).toBe(1)
    expect(await s.blockstore.hasMany([root, ...blocks.map((b) => b.cid), garbageCid])).toEqual([true, true, true, true, false])
  })
})
