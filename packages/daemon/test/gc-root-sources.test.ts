import { randomBytes } from 'node:crypto'
import { mkdtemp } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { GcRootsError } from '@mlp/proto'
import type { CID } from 'multiformats/cid'
import { afterEach, describe, expect, it } from 'vitest'
import { parseConfig } from '../src/config.js'
import { RAW_CODEC } from '../src/store/constants.js'
import { collectStoreGarbage } from '../src/store/gc.js'
import { cidOf } from '../src/store/hash.js'
import { openStore, type Store } from '../src/store/index.js'
import type { RootQuery, RootSource } from '../src/store/root-sources.js'

let store: Store | undefined
afterEach(async () => {
  await store?.close()
  store = undefined
})

/** A store holding `n` 1000-byte blocks that nothing names yet. */
async function storeWithBlocks (n: number): Promise<{ s: Store, cids: CID[] }> {
  store = await openStore(join(await mkdtemp(join(tmpdir(), 'mlp-root-sources-')), 'store'))
  const cids: CID[] = []
  for (let i = 0; i < n; i++) {
    const bytes = randomBytes(1000)
    const cid = cidOf(RAW_CODEC, bytes)
    await store.blockstore.put(cid, bytes)
    cids.push(cid)
  }
  await store.blockstore.commit()
  return { s: store, cids }
}

/** A source naming `cids`, remembering what it was asked. */
function fixedSource (name: string, cids: CID[], asked: RootQuery[] = []): RootSource {
  return { name, roots: async (query) => { asked.push(query); return { roots: cids, read: 1 } } }
}

const failing: RootSource = { name: 'broken', roots: async () => { throw new Error('EACCES: cannot read mlp.lock') } }

describe('gc asks every registered root source', () => {
  it('keeps what a registered source names, and passes it the scope, the forget set and whether a sweep follows', async () => {
    const { s, cids: [kept, garbage] } = await storeWithBlocks(2)
    const asked: RootQuery[] = []
    s.roots.register(fixedSource('fixed', [kept], asked))
    const forget = new Set(['/gone'])
    const r = await collectStoreGarbage(s, { scope: 'workspace', forget })
    expect(r).toMatchObject({ removedBlocks: 1, reachableBlocks: 1, scope: 'workspace', sources: { fixed: { roots: 1, read: 1 } } })
    expect(await s.blockstore.has(kept)).toBe(true)
    expect(await s.blockstore.has(garbage)).toBe(false)
    expect(asked).toMatchObject([{ scope: 'workspace', record: true, forget }])
    // a dry run tells the sources not to record anything
    await collectStoreGarbage(s, { dry: true })
    expect(asked[1]).toMatchObject({ scope: 'refs', record: false })
  })

  it('removes nothing when a source fails, naming it; the same store without it removes the garbage (control)', async () => {
    const { s, cids: [kept, garbage] } = await storeWithBlocks(2)
    s.roots.register(fixedSource('fixed', [kept]))
    const unregister = s.roots.register(failing)
    const err = await collectStoreGarbage(s).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(GcRootsError)
    expect((err as Error).message).toBe("gc root source 'broken' failed (EACCES: cannot read mlp.lock): nothing was removed")
    expect(await s.blockstore.has(garbage)).toBe(true)
    expect(await s.blockstore.has(kept)).toBe(true)

    unregister()
    expect(await collectStoreGarbage(s)).toMatchObject({ removedBlocks: 1 })
    expect(await s.blockstore.has(garbage)).toBe(false)
    expect(await s.blockstore.has(kept)).toBe(true)
  })

  it('passes a source\'s own named error through unchanged', async () => {
    const { s, cids: [garbage] } = await storeWithBlocks(1)
    const named = new GcRootsError('/p/mlp.lock: not valid YAML: nothing was removed')
    s.roots.register({ name: 'projects', roots: async () => { throw named } })
    await expect(collectStoreGarbage(s)).rejects.toBe(named)
    expect(await s.blockstore.has(garbage)).toBe(true)
  })

  it('keeps pins without any source, and optional roots that have no blocks do not stop gc', async () => {
    const { s, cids: [pinned, garbage] } = await storeWithBlocks(2)
    await s.pins.pin(pinned, 'test')
    const neverStored = cidOf(RAW_CODEC, randomBytes(10))
    s.roots.register({ name: 'locks', roots: async () => ({ roots: [], optional: [neverStored] }) })
    const r = await collectStoreGarbage(s)
    expect(r).toMatchObject({ roots: 2, reachableBlocks: 1, removedBlocks: 1 })
    expect(await s.blockstore.has(pinned)).toBe(true)
    expect(await s.blockstore.has(garbage)).toBe(false)
  })

  it('refuses a second source under a taken name; the name is free again once unregistered', async () => {
    const { s } = await storeWithBlocks(0)
    const unregister = s.roots.register(fixedSource('projects', []))
    expect(() => s.roots.register(fixedSource('projects', []))).toThrow("a gc root source named 'projects' is already registered")
    unregister()
    expect(() => s.roots.register(fixedSource('projects', []))).not.toThrow()
    expect(s.roots.list().map((x) => x.name)).toEqual(['projects'])
  })
})

describe('config: gcCompactBelow', () => {
  it('takes a share above 0 and at most 1; anything else is a one-line error naming the line', () => {
    expect(parseConfig('gcCompactBelow: 0.25\n')).toEqual({ gcCompactBelow: 0.25 })
    expect(parseConfig('gcCompactBelow: 1\n')).toEqual({ gcCompactBelow: 1 })
    for (const bad of ['0', '-0.5', '1.5', 'half', '.nan']) {
      expect(() => parseConfig(`mdns: true\ngcCompactBelow: ${bad}\n`, 'c.yaml')).toThrow("c.yaml:2: 'gcCompactBelow' must be a number above 0 and at most 1 (the live share below which gc rewrites a pack; default 0.5)")
    }
  })

  it('is what gc compacts by: a pack 60% live is rewritten at 0.75, kept at the default (control)', async () => {
    const { s, cids } = await storeWithBlocks(5)
    // five blocks in one pack; three stay live through a pin each. The pack
    // being written is never rewritten, so the next write starts a new one
    for (const cid of cids.slice(0, 3)) await s.pins.pin(cid, 'test')
    await s.packs.close()
    await s.packs.open()
    const dry = await collectStoreGarbage(s, { dry: true })
    expect(dry).toMatchObject({ removedBlocks: 2, uncompactedPacks: 1, compactBelow: 0.5 })
    const r = await collectStoreGarbage(s, { compactBelow: 0.75 })
    expect(r).toMatchObject({ removedBlocks: 2, compactedPacks: 1, uncompactedPacks: 0, compactBelow: 0.75 })
    for (const cid of cids.slice(0, 3)) expect(await s.blockstore.has(cid)).toBe(true)
  })
})
