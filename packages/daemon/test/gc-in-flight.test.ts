import { randomBytes } from 'node:crypto'
import { mkdtemp } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { RAW_CODEC } from '../src/store/constants.js'
import { collectGarbage } from '../src/store/gc.js'
import { cidOf } from '../src/store/hash.js'
import { protectRoots } from '../src/store/in-flight.js'
import { openStore, type Store } from '../src/store/index.js'

let store: Store | undefined
afterEach(async () => {
  await store?.close()
  store = undefined
})

async function storeWithBlock (): Promise<{ s: Store, cid: ReturnType<typeof cidOf> }> {
  store = await openStore(join(await mkdtemp(join(tmpdir(), 'mlp-inflight-')), 'store'))
  const bytes = randomBytes(1000)
  const cid = cidOf(RAW_CODEC, bytes)
  await store.blockstore.put(cid, bytes)
  await store.blockstore.commit()
  return { s: store, cid }
}

// An add writes its pointer file and then releases its protection. If gc
// read the roots first and the protected roots after, an add finishing in
// between would be in neither read. gc reads the protected roots first.
describe('gc and an operation recording its root meanwhile', () => {
  it('keeps a root released while gc reads the other roots', async () => {
    const { s, cid } = await storeWithBlock()
    const release = protectRoots(s.blockstore, [cid])
    // the pointer file is written after gc read it: the root sources miss it
    const r = await collectGarbage(s.blockstore, async () => { release(); return [] })
    expect(r).toMatchObject({ removedBlocks: 0, reachableBlocks: 1 })
    expect(await s.blockstore.has(cid)).toBe(true)
  })

  it('removes it once neither a protection nor a root names it (control)', async () => {
    const { s, cid } = await storeWithBlock()
    const dry = await collectGarbage(s.blockstore, async () => [], undefined, { dry: true })
    expect(dry).toMatchObject({ dry: true, removedBlocks: 1, wouldRemove: [cid.toString()] })
    expect(await s.blockstore.has(cid)).toBe(true)
    const r = await collectGarbage(s.blockstore, async () => [])
    expect(r).toMatchObject({ removedBlocks: 1, removedBytes: 1000 })
    expect(await s.blockstore.has(cid)).toBe(false)
  })
})
