import { mkdtemp, writeFile } from 'node:fs/promises'
import { statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { CID } from 'multiformats/cid'
import { describe, expect, it } from 'vitest'
import { fsClockAfter, fsClockNs } from '../src/store/fs-clock.js'
import { statEntry, statMatches } from '../src/store/importer.js'

const link = { cid: CID.parse('bafkr4ihkr4ld3m4gqkjf4reryxsy2s5tkbxprqkow6fin2iiyvreuzzab4'), size: 4, tsize: 4 }

describe('the stat cache and the file-system clock (racy-git)', () => {
  it('an entry recorded once the clock passed the write is trusted; a same-size rewrite right after is not', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'mlp-racy-'))
    const file = join(dir, 'f.txt')
    const marker = join(dir, 'clock')
    writeFileSync(file, 'aaaa')
    const written = statSync(file, { bigint: true })
    const recorded = await fsClockAfter(marker, written.mtimeNs)
    expect(recorded > written.mtimeNs).toBe(true)
    const entry = statEntry(written, link, recorded)
    // positive control: the file as written matches without being read
    expect(statMatches(entry, statSync(file, { bigint: true }))).toBe(true)
    // the same size, at once: within one tick of the clock for all we know
    writeFileSync(file, 'bbbb')
    const edited = statSync(file, { bigint: true })
    expect(edited.size).toBe(written.size)
    expect(edited.mtimeNs >= recorded).toBe(true)
    expect(statMatches(entry, edited)).toBe(false)
  })

  it('an entry whose file is not older than its recording is racy: read again', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'mlp-racy-'))
    const file = join(dir, 'f.txt')
    await writeFile(file, 'aaaa')
    const st = statSync(file, { bigint: true })
    // recorded at the very tick of the write: an edit in that tick would keep the mtime
    expect(statMatches(statEntry(st, link, st.mtimeNs), st)).toBe(false)
    expect(statMatches(statEntry(st, link, st.mtimeNs + 1n), st)).toBe(true)
  })

  it('the clock is the mtime a file written now gets, never behind a file written before it', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'mlp-racy-'))
    const before = join(dir, 'before')
    writeFileSync(before, 'x')
    const clock = fsClockNs(join(dir, 'clock'))
    expect(clock >= statSync(before, { bigint: true }).mtimeNs).toBe(true)
  })
})
