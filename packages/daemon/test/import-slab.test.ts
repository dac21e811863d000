import { randomBytes } from 'node:crypto'
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { SLAB_BYTES, SMALL_FILE_BYTES } from '../src/store/constants.js'
import { openStore, type Store } from '../src/store/index.js'

let store: Store | undefined
afterEach(async () => {
  await store?.close()
  store = undefined
})

async function readBack (s: Store, cid: Parameters<Store['exporter']['file']>[0]): Promise<Buffer> {
  const parts: Uint8Array[] = []
  for await (const part of s.exporter.file(cid)) parts.push(part)
  return Buffer.concat(parts)
}

describe('small files read into one reused buffer', () => {
  it('stores every file byte for byte though the buffer is reused many times over', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'mlp-slab-'))
    const data = join(dir, 'data')
    const files = new Map<string, Buffer>()
    // about three slabs' worth: many small files, a few near the small-file limit, empty ones
    for (let i = 0; i < 500; i++) files.set(`a/f${i}.bin`, randomBytes(1 + ((i * 7919) % 60_000)))
    for (let i = 0; i < 8; i++) files.set(`b/big${i}.bin`, randomBytes(SMALL_FILE_BYTES - i))
    for (let i = 0; i < 3; i++) files.set(`c/empty${i}.bin`, Buffer.alloc(0))
    let total = 0
    for (const [rel, bytes] of files) {
      await mkdir(join(data, rel, '..'), { recursive: true })
      await writeFile(join(data, rel), bytes)
      total += bytes.length
    }
    expect(total).toBeGreaterThan(2 * SLAB_BYTES)

    store = await openStore(join(dir, 'store'))
    // ids computed without storing (what status does) agree with the stored DAG
    const idsOnly = await store.importer.import(data, 'data', { store: false })
    const stored = await store.importer.import(data, 'data')
    expect(stored.link.cid.toString()).toBe(idsOnly.link.cid.toString())
    expect(stored.nfiles).toBe(files.size)

    let checked = 0
    for await (const item of store.exporter.walk(stored.link.cid)) {
      if (item.kind !== 'file') continue
      const want = files.get(item.path)
      expect(want, item.path).toBeDefined()
      expect((await readBack(store, item.cid)).equals(want as Buffer), item.path).toBe(true)
      checked++
    }
    expect(checked).toBe(files.size)
  })
})
