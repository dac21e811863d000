import { randomBytes } from 'node:crypto'
import { closeSync, constants, openSync, readFileSync, statSync, unlinkSync } from 'node:fs'
import { mkdtemp } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import type { BlockLocation } from '../src/store/index-db.js'

// small packs, so a few MB of records roll over several of them; read once
// when the constants load, hence before the dynamic imports below
process.env.MLP_PACK_TARGET_BYTES = String(3 * 1024 * 1024)
const { PACK_WRITE_BUFFER_BYTES, RAW_CODEC } = await import('../src/store/constants.js')
const { cidOf } = await import('../src/store/hash.js')
const { Packs } = await import('../src/store/packs.js')
type PacksOptions = import('../src/store/packs.js').PacksOptions

/** Whether the filesystem under `dir` opens files with O_DIRECT. */
function takesDirectIo (dir: string): boolean {
  const probe = join(dir, 'probe')
  try {
    closeSync(openSync(probe, constants.O_WRONLY | constants.O_CREAT | constants.O_DIRECT))
    return true
  } catch {
    return false
  } finally {
    try { unlinkSync(probe) } catch {}
  }
}

/** Record sizes around every edge: a page, the write buffer, a pack. */
const SIZES = [1, 10, 4090, 4096, 4097, 5000, 65_536, 100_000, 1_000_000, 3_000_000, PACK_WRITE_BUFFER_BYTES - 2048, PACK_WRITE_BUFFER_BYTES + 1024 * 1024, 777, 12]

interface Stored { loc: BlockLocation, data: Buffer }

async function appendAll (packs: InstanceType<typeof Packs>, sizes: number[]): Promise<Stored[]> {
  // concurrently, as several peers feed one fetch
  return await Promise.all(sizes.map(async (n) => {
    const data = randomBytes(n)
    return { loc: await packs.append(cidOf(RAW_CODEC, data), data), data }
  }))
}

/** Every record read through `packs` and straight from its file equals what was appended. */
async function expectAll (packs: InstanceType<typeof Packs>, stored: Stored[], fromFile: boolean): Promise<void> {
  for (const s of stored) {
    expect(Buffer.compare(await packs.read(s.loc), s.data)).toBe(0)
    if (fromFile) expect(Buffer.compare(readFileSync(packs.path(s.loc.pack)).subarray(s.loc.offset, s.loc.offset + s.loc.length), s.data)).toBe(0)
  }
}

const MODES: Array<[string, PacksOptions, boolean]> = [
  ['O_DIRECT from page-aligned buffers', {}, true],
  ['buffered writes', { directIo: false }, false],
  // misaligned buffers: the filesystem takes O_DIRECT at open, refuses the write
  ['O_DIRECT refused at the write, then buffered', { directIo: true, alloc: (n) => Buffer.allocUnsafeSlow(n + 1).subarray(1) }, false]
]

describe.each(MODES)('packs with %s', (_name, options, direct) => {
  it('reads every record back before and after sync, and leaves pack files exactly as long as their records', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'mlp-packs-'))
    const packs = new Packs(dir, options)
    await packs.open()
    const first = await appendAll(packs, SIZES)
    // from the write buffer, the queued writes and the file, before any sync
    await expectAll(packs, first, false)
    await packs.sync()
    await expectAll(packs, first, true)
    // the page a sync wrote padded is written again with what follows it
    const second = await appendAll(packs, [3, 5000, 200_000, 4096, 1])
    await packs.sync()
    await expectAll(packs, [...first, ...second], true)
    const ids = await packs.list()
    expect(ids.length).toBeGreaterThan(2)
    // positive control: where the filesystem takes O_DIRECT, it was used
    expect(packs.directIo).toBe(direct && takesDirectIo(dir))
    await packs.close()

    // every pack ends at its last record: no padding left behind
    const recordsEnd = new Map<number, number>()
    for (const s of [...first, ...second]) recordsEnd.set(s.loc.pack, Math.max(recordsEnd.get(s.loc.pack) ?? 0, s.loc.offset + s.loc.length))
    for (const id of ids) expect(statSync(packs.path(id)).size).toBe(recordsEnd.get(id) ?? 0)

    // a new run appends to a new pack and reads the old ones
    const again = new Packs(dir, options)
    await again.open()
    expect(again.currentPack()).toBe(ids.at(-1)! + 1)
    await expectAll(again, [...first, ...second], true)
    await again.close()
  })
})
