import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import * as dagPb from '@ipld/dag-pb'
import { UnixFS } from 'ipfs-unixfs'
import type { CID } from 'multiformats/cid'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { DAG_PB_CODEC } from '../src/store/constants.js'
import { cidOf } from '../src/store/hash.js'
import { openStore, type Store } from '../src/store/index.js'
import { checkoutOut } from '../src/tracking/checkout.js'

// Checkout tells a version mlp wrote or stored (its content is in the store)
// from a local edit (content the store does not know): the first is replaced
// or removed, the second kept and reported.

let work: string
let store: Store

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'mlp-checkout-rules-'))
  store = await openStore(join(work, 'store'))
})
afterAll(async () => {
  await store.close()
  await rm(work, { recursive: true, force: true })
})

let n = 0
function fresh (name: string): string {
  const d = join(work, `${name}-${n++}`)
  mkdirSync(d, { recursive: true })
  return d
}

async function add (path: string): Promise<CID> {
  const r = await store.importer.import(path, 'data', { store: true })
  await store.blockstore.commit()
  return r.link.cid
}

/** A project with `data/` at version 1 and version 2 both stored; the workspace holds version 1. */
async function twoVersions (): Promise<{ root: string, data: string, v1: CID, v2: CID }> {
  const root = fresh('proj')
  const data = join(root, 'data')
  mkdirSync(join(data, 'sub'), { recursive: true })
  writeFileSync(join(data, 'big.bin'), 'version 1\n')
  writeFileSync(join(data, 'gone.txt'), 'deleted in version 2\n')
  writeFileSync(join(data, 'sub', 'only-v1.txt'), 'a whole folder deleted in version 2\n')
  writeFileSync(join(data, 'same.txt'), 'unchanged\n')
  const v1 = await add(data)
  const v2src = fresh('v2')
  writeFileSync(join(v2src, 'big.bin'), 'version 2\n')
  writeFileSync(join(v2src, 'same.txt'), 'unchanged\n')
  const v2 = await add(v2src)
  return { root, data, v1, v2 }
}

describe('checkout of a new version', () => {
  it('replaces files and removes entries the store knows, without force', async () => {
    const { root, data, v2 } = await twoVersions()
    const r = await checkoutOut(store, root, data, v2)
    expect(r).toMatchObject({ written: 1, unchanged: 1, removed: 2, skipped: [] })
    expect(readFileSync(join(data, 'big.bin'), 'utf8')).toBe('version 2\n')
    expect(readdirSync(data).sort()).toEqual(['big.bin', 'same.txt'])
  })

  it('keeps local edits and unknown new files, reports them by path, and still applies the rest', async () => {
    const { root, data, v2 } = await twoVersions()
    writeFileSync(join(data, 'big.bin'), 'my edit\n')
    writeFileSync(join(data, 'sub', 'mine.txt'), 'new, never stored\n')
    const r = await checkoutOut(store, root, data, v2)
    expect(r.skipped.sort()).toEqual(['data/big.bin', 'data/sub/mine.txt'])
    expect(r.removed).toBe(2)
    expect(readFileSync(join(data, 'big.bin'), 'utf8')).toBe('my edit\n')
    expect(readFileSync(join(data, 'sub', 'mine.txt'), 'utf8')).toBe('new, never stored\n')
    // the known file beside the kept one went; the folder stays for the kept file
    expect(readdirSync(join(data, 'sub'))).toEqual(['mine.txt'])
    expect(existsSync(join(data, 'gone.txt'))).toBe(false)
    // positive control: force makes the workspace match
    const f = await checkoutOut(store, root, data, v2, { force: true })
    expect(f.skipped).toEqual([])
    expect(readFileSync(join(data, 'big.bin'), 'utf8')).toBe('version 2\n')
    expect(readdirSync(data).sort()).toEqual(['big.bin', 'same.txt'])
  })

  it('goes back to an old version the store holds', async () => {
    const { root, data, v1, v2 } = await twoVersions()
    await checkoutOut(store, root, data, v2)
    const r = await checkoutOut(store, root, data, v1)
    expect(r).toMatchObject({ written: 3, removed: 0, skipped: [] })
    expect(readFileSync(join(data, 'sub', 'only-v1.txt'), 'utf8')).toBe('a whole folder deleted in version 2\n')
    expect(readFileSync(join(data, 'big.bin'), 'utf8')).toBe('version 1\n')
  })

  it('a single file: a stored version is replaced, an edit is kept', async () => {
    const root = fresh('proj')
    const file = join(root, 'model.pt')
    writeFileSync(file, 'weights 1\n')
    const w1 = await add(file)
    writeFileSync(file, 'weights 2\n')
    const w2 = await add(file)
    expect((await checkoutOut(store, root, file, w1)).written).toBe(1)
    expect(readFileSync(file, 'utf8')).toBe('weights 1\n')
    writeFileSync(file, 'retrained by hand\n')
    expect((await checkoutOut(store, root, file, w2)).skipped).toEqual(['model.pt'])
    expect(readFileSync(file, 'utf8')).toBe('retrained by hand\n')
  })

  it('removing an entry that is a symlink removes the link, never what it points to', async () => {
    const { root, data, v2 } = await twoVersions()
    const canary = fresh('canary')
    writeFileSync(join(canary, 'keep.txt'), 'outside\n')
    symlinkSync(canary, join(data, 'lnk'))
    // stored with the directory: a version mlp knows
    await add(data)
    const r = await checkoutOut(store, root, data, v2)
    expect(r.skipped).toEqual([])
    expect(existsSync(join(data, 'lnk'))).toBe(false)
    expect(readFileSync(join(canary, 'keep.txt'), 'utf8')).toBe('outside\n')
  })

  it('a directory of known files where the new version has a file is replaced; one holding an edit is kept', async () => {
    const root = fresh('proj')
    const out = join(root, 'out')
    mkdirSync(out)
    writeFileSync(join(out, 'a.txt'), 'a\n')
    await add(out)
    const asFile = fresh('src')
    writeFileSync(join(asFile, 'out'), 'now a file\n')
    const fileCid = await add(join(asFile, 'out'))
    writeFileSync(join(out, 'b.txt'), 'unknown\n')
    expect((await checkoutOut(store, root, out, fileCid)).skipped).toEqual(['out'])
    expect(readFileSync(join(out, 'b.txt'), 'utf8')).toBe('unknown\n')
    rmSync(join(out, 'b.txt'))
    expect((await checkoutOut(store, root, out, fileCid)).skipped).toEqual([])
    expect(readFileSync(out, 'utf8')).toBe('now a file\n')
  })

  it('a file laid out as the importer would not (same bytes, another id) is no local edit; other bytes of the same size are', async () => {
    // one dag-pb node with its data inline: the importer makes another DAG of these bytes
    const bytes = dagPb.encode({ Data: new UnixFS({ type: 'file', data: Buffer.from('#!/bin/sh\necho hi\n'), mode: 0o755 }).marshal(), Links: [] })
    const cid = cidOf(DAG_PB_CODEC, bytes)
    await store.blockstore.put(cid, bytes)
    await store.blockstore.commit()
    const root = fresh('proj')
    const file = join(root, 'run.sh')
    expect((await checkoutOut(store, root, file, cid)).written).toBe(1)
    expect(await checkoutOut(store, root, file, cid)).toMatchObject({ written: 0, skipped: [] })
    writeFileSync(file, '#!/bin/sh\necho ho\n')
    expect((await checkoutOut(store, root, file, cid)).skipped).toEqual(['run.sh'])
    expect(readFileSync(file, 'utf8')).toBe('#!/bin/sh\necho ho\n')
  })
})
