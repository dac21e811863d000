import { randomBytes } from 'node:crypto'
import { mkdtemp } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { afterEach, describe, expect, it } from 'vitest'
import { parseConfig } from '../src/config.js'
import { createLogger } from '../src/logger.js'
import { RunCache, recentRunCacheRoots, runCacheRootSource } from '../src/pipeline/runcache.js'
import { RAW_CODEC } from '../src/store/constants.js'
import { collectStoreGarbage } from '../src/store/gc.js'
import { cidOf } from '../src/store/hash.js'
import { openStore, type Store } from '../src/store/index.js'
import { projectRootSource } from '../src/tracking/roots.js'

const HOUR = 3600 * 1000
let store: Store | undefined
afterEach(async () => {
  await store?.close()
  store = undefined
})

/** A store holding one block that only a run-cache entry (stored now) names. */
async function storeWithCachedOut (): Promise<{ s: Store, cid: ReturnType<typeof cidOf>, dir: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'mlp-rc-roots-'))
  store = await openStore(join(dir, 'store'))
  const bytes = randomBytes(1000)
  const cid = cidOf(RAW_CODEC, bytes)
  await store.blockstore.put(cid, bytes)
  await store.blockstore.commit()
  const privateKey = await generateKeyPair('Ed25519')
  const self = peerIdFromPrivateKey(privateKey).toString()
  const cache = new RunCache(store, { self, privateKey, trusted: (signer) => signer === self })
  await cache.putOwn('a'.repeat(64), [{ path: 'model.pt', cid: cid.toString(), size: 1000 }])
  return { s: store, cid, dir }
}

describe('run-cache entries younger than the configured age are gc roots', () => {
  it('names the outs of an entry stored within the age, not of one older (control), not with age 0', async () => {
    const { s, cid } = await storeWithCachedOut()
    expect((await recentRunCacheRoots(s, HOUR)).map(String)).toEqual([cid.toString()])
    expect(await recentRunCacheRoots(s, HOUR, Date.now() + 2 * HOUR)).toEqual([])
    expect(await recentRunCacheRoots(s, 0)).toEqual([])
  })

  it('gc keeps a recent entry\'s out, and removes it once the entry is older than the age (control)', async () => {
    const { s, cid, dir } = await storeWithCachedOut()
    const log = createLogger({ file: join(dir, 'daemon.log') })
    s.roots.register(projectRootSource(s, log))
    const unregister = s.roots.register(runCacheRootSource(s, HOUR))
    const kept = await collectStoreGarbage(s)
    expect(kept).toMatchObject({ removedBlocks: 0, reachableBlocks: 1 })
    expect(await s.blockstore.has(cid)).toBe(true)
    unregister()
    s.roots.register(runCacheRootSource(s, 0))
    const gone = await collectStoreGarbage(s)
    expect(gone).toMatchObject({ removedBlocks: 1 })
    expect(await s.blockstore.has(cid)).toBe(false)
  })

  it('config: gcKeepRunCacheDays takes days, 0 or more; anything else is a one-line error', () => {
    expect(parseConfig('gcKeepRunCacheDays: 0.5\n')).toEqual({ gcKeepRunCacheDays: 0.5 })
    expect(parseConfig('gcKeepRunCacheDays: 0\n')).toEqual({ gcKeepRunCacheDays: 0 })
    expect(() => parseConfig('gcKeepRunCacheDays: -1\n', 'c.yaml')).toThrow("c.yaml:1: 'gcKeepRunCacheDays' must be a number of days, 0 or more")
    expect(() => parseConfig('gcKeepRunCacheDays: week\n', 'c.yaml')).toThrow("c.yaml:1: 'gcKeepRunCacheDays' must be a number of days")
  })
})
