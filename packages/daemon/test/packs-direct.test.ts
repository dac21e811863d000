import { randomBytes } from 'node:crypto'
import { execFileSync } from 'node:child_process'
import { closeSync, constants, openSync, readdirSync, readFileSync, statSync, unlinkSync } from 'node:fs'
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

/** The write handle of the pack being appended to (internal), to delay or fail its writes. */
async function currentWriter (packs: InstanceType<typeof Packs>): Promise<{ handle: { write: (...args: unknown[]) => Promise<{ bytesWritten: number }> } }> {
  return await (packs as unknown as { writers: Map<number, Promise<{ handle: { write: (...args: unknown[]) => Promise<{ bytesWritten: number }> } }>> }).writers.get(packs.currentPack())!
}

describe('packs under failure and odd filesystems', () => {
  it('opens, writes and reads back on a filesystem that refuses O_DIRECT at open (ramfs), and opens again', async () => {
    // needs root to mount; CI runs as root. Without it this fails loudly.
    const mountPoint = await mkdtemp(join(tmpdir(), 'mlp-ramfs-'))
    execFileSync('mount', ['-t', 'ramfs', 'ramfs', mountPoint])
    try {
      expect(takesDirectIo(mountPoint)).toBe(false)
      for (let run = 0; run < 2; run++) {
        const packs = new Packs(mountPoint)
        await packs.open()
        const stored = await appendAll(packs, [10, 5000, 100_000])
        await packs.sync()
        await expectAll(packs, stored, true)
        expect(packs.directIo).toBe(false)
        await packs.close()
      }
      // one pack per run, nothing left over from refused opens
      expect(readdirSync(mountPoint).sort()).toEqual(['00000001.pack', '00000002.pack'])
    } finally {
      execFileSync('umount', ['-l', mountPoint])
    }
  })

  it('a record bigger than the write buffer, appended while a sync is writing, leaves the synced bytes intact', async () => {
    const packs = new Packs(await mkdtemp(join(tmpdir(), 'mlp-packs-')))
    await packs.open()
    const w = await currentWriter(packs)
    const write = w.handle.write.bind(w.handle)
    let release!: () => void
    const held = new Promise<void>((resolve) => { release = resolve })
    // the big record's own write waits, as on a slow disk
    w.handle.write = async (...args: unknown[]) => {
      if ((args[2] as number) > 4096) await held
      return await write(...args)
    }
    const small = randomBytes(100)
    const smallLoc = await packs.append(cidOf(RAW_CODEC, small), small)
    const syncing = packs.sync()
    const big = randomBytes(PACK_WRITE_BUFFER_BYTES + 1024 * 1024)
    await packs.append(cidOf(RAW_CODEC, big), big)
    await syncing
    // durable now, while the big write is still held: on disk and read back
    const onDisk = readFileSync(packs.path(smallLoc.pack)).subarray(smallLoc.offset, smallLoc.offset + smallLoc.length)
    expect(onDisk.equals(small)).toBe(true)
    expect((await packs.read(smallLoc)).equals(small)).toBe(true)
    release()
    await packs.close()
  })

  it('a write failing after a sync keeps what the sync made durable (control: what came after is cut)', async () => {
    const packs = new Packs(await mkdtemp(join(tmpdir(), 'mlp-packs-')))
    await packs.open()
    const block = randomBytes(5000)
    const loc = await packs.append(cidOf(RAW_CODEC, block), block)
    const generation = packs.generation
    await packs.sync()
    // a commit would now be writing the index; meanwhile another session's flush hits a full disk
    const w = await currentWriter(packs)
    w.handle.write = async () => { throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' }) }
    for (let i = 0; i < 3; i++) {
      const d = randomBytes(1000)
      await packs.append(cidOf(RAW_CODEC, d), d)
    }
    await expect(packs.sync()).rejects.toThrow(/disk full/)
    expect(packs.generation).toBeGreaterThan(generation)
    const file = readFileSync(packs.path(loc.pack))
    expect(file.length).toBe(loc.offset + loc.length)
    expect(file.subarray(loc.offset).equals(block)).toBe(true)
    await packs.close().catch(() => {})
  })
})

describe('which reads may be encrypted in place (net/donated-bytes.ts)', () => {
  it('a record read from a pack file is its own array, given away when donated; one still in the write buffer is not', async () => {
    const { donate, isDonated } = await import('../src/net/donated-bytes.js')
    const dir = await mkdtemp(join(tmpdir(), 'mlp-packs-'))
    const packs = new Packs(dir)
    await packs.open()
    // small records too: Node would hand those out of its shared pool
    const onDisk = await appendAll(packs, [10, 5000, 100_000])
    await packs.sync()
    const inBuffer = await appendAll(packs, [10, 5000])
    for (const s of onDisk) {
      const bytes = await packs.read(s.loc)
      expect(Buffer.compare(bytes, s.data)).toBe(0)
      // not donated until the last user says so
      expect(isDonated(bytes)).toBe(false)
      donate(bytes)
      expect(isDonated(bytes)).toBe(true)
    }
    // a copy out of the live write buffer (maybe from the shared pool) is never given away
    for (const s of inBuffer) {
      const bytes = await packs.read(s.loc)
      expect(Buffer.compare(bytes, s.data)).toBe(0)
      donate(bytes)
      expect(isDonated(bytes)).toBe(false)
    }
    await packs.close()
  })
})
