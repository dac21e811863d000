import * as dagPb from '@ipld/dag-pb'
import { UnixFS } from 'ipfs-unixfs'
import { chmodSync, existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, readlinkSync, symlinkSync, writeFileSync } from 'node:fs'
import { mkdtemp, rm, statfs } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { CID } from 'multiformats/cid'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { DAG_PB_CODEC, RAW_CODEC } from '../src/store/constants.js'
import { cidOf } from '../src/store/hash.js'
import { openStore, type Store } from '../src/store/index.js'
import { removeInside, writeTreeInPlace, writeTreeNew } from '../src/tracking/safe-write.js'

let work: string
let store: Store

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'mlp-safe-write-'))
  store = await openStore(join(work, 'store'))
})
afterAll(async () => {
  await store.close()
  await rm(work, { recursive: true, force: true })
})

let n = 0
/** A fresh directory under the test's temp dir. */
function dir (name: string): string {
  const d = join(work, `${name}-${n++}`)
  mkdirSync(d, { recursive: true })
  return d
}

async function importTree (path: string): Promise<CID> {
  const r = await store.importer.import(path, 'x', { store: true })
  await store.blockstore.commit()
  return r.link.cid
}

/** Stores a directory node with the given (possibly hostile) entries, bypassing buildDirectory's checks. */
async function hostileDir (entries: Array<[string, CID]>): Promise<CID> {
  const sorted = [...entries].sort((a, b) => Buffer.compare(Buffer.from(a[0]), Buffer.from(b[0])))
  const bytes = dagPb.encode({ Data: new UnixFS({ type: 'directory' }).marshal(), Links: sorted.map(([name, cid]) => ({ Name: name, Hash: cid, Tsize: 10 })) })
  const cid = cidOf(DAG_PB_CODEC, bytes)
  await store.blockstore.put(cid, bytes)
  await store.blockstore.commit()
  return cid
}

async function rawLeaf (text: string): Promise<CID> {
  const bytes = Buffer.from(text)
  const cid = cidOf(RAW_CODEC, bytes)
  await store.blockstore.put(cid, bytes)
  return cid
}

/** A benign tree: nested dirs, .gitignore, an executable, a symlink. */
function benignTree (): string {
  const src = dir('src')
  mkdirSync(join(src, 'a', 'b'), { recursive: true })
  writeFileSync(join(src, '.gitignore'), '*.tmp\n')
  writeFileSync(join(src, 'a', 'b', 'deep.txt'), 'deep')
  writeFileSync(join(src, 'run.sh'), '#!/bin/sh\necho hi\n')
  chmodSync(join(src, 'run.sh'), 0o755)
  symlinkSync('a/b/deep.txt', join(src, 'link'))
  return src
}

describe('writeTreeNew', () => {
  it('writes a benign tree to a new path: files, modes, symlinks as links', async () => {
    const cid = await importTree(benignTree())
    const parent = dir('out')
    const dest = join(parent, 'copy')
    const r = await writeTreeNew(store.exporter, cid, dest)
    expect(r.written).toBe(4)
    expect(readFileSync(join(dest, 'a', 'b', 'deep.txt'), 'utf8')).toBe('deep')
    expect(readFileSync(join(dest, '.gitignore'), 'utf8')).toBe('*.tmp\n')
    expect(lstatSync(join(dest, 'run.sh')).mode & 0o777).toBe(0o755)
    expect(readlinkSync(join(dest, 'link'))).toBe('a/b/deep.txt')
    // the temporary directory is gone
    expect(readdirSync(parent)).toEqual(['copy'])
  })

  it('refuses an existing destination and changes nothing', async () => {
    const cid = await importTree(benignTree())
    const dest = dir('exists')
    writeFileSync(join(dest, 'mine'), 'keep')
    await expect(writeTreeNew(store.exporter, cid, dest)).rejects.toMatchObject({ name: 'PathError' })
    expect(readdirSync(dest)).toEqual(['mine'])
  })

  it('leaves nothing behind when a directory deep inside is hostile', async () => {
    const ok = await rawLeaf('fine')
    const bad = await hostileDir([['../escaped', ok]])
    const root = await hostileDir([['aaa-first', ok], ['zzz', bad]])
    const parent = dir('partial')
    await expect(writeTreeNew(store.exporter, root, join(parent, 'dest'))).rejects.toMatchObject({ name: 'InvalidDagError' })
    expect(readdirSync(parent)).toEqual([])
    expect(existsSync(join(parent, 'escaped'))).toBe(false)
  })

  it('never follows a symlink between the trusted root and the destination', async () => {
    const cid = await importTree(benignTree())
    const job = dir('job')
    const canary = dir('canary')
    symlinkSync(canary, join(job, 'lnk'))
    await expect(writeTreeNew(store.exporter, cid, join(job, 'lnk', 'input'), { root: job })).rejects.toMatchObject({ name: 'UnsafePathError' })
    expect(readdirSync(canary)).toEqual([])
  })
})

describe('symlinks git would read', () => {
  it('refuses a symlinked .gitattributes and leaves no destination', async () => {
    const link = cidOf(DAG_PB_CODEC, dagPb.encode({ Data: new UnixFS({ type: 'symlink', data: Buffer.from('/etc/passwd') }).marshal(), Links: [] }))
    await store.blockstore.put(link, dagPb.encode({ Data: new UnixFS({ type: 'symlink', data: Buffer.from('/etc/passwd') }).marshal(), Links: [] }))
    const root = await hostileDir([['.gitattributes', link]])
    const parent = dir('gitattr')
    await expect(writeTreeNew(store.exporter, root, join(parent, 'dest'))).rejects.toMatchObject({ name: 'UnsafePathError' })
    expect(readdirSync(parent)).toEqual([])
  })
})

describe('writeTreeInPlace', () => {
  it('keeps a symlink where the DAG has a directory, and writes nothing through it', async () => {
    const cid = await importTree(benignTree())
    const root = dir('proj')
    const canary = dir('canary')
    mkdirSync(join(root, 'out'))
    symlinkSync(canary, join(root, 'out', 'a'))
    const r = await writeTreeInPlace(store.exporter, cid, root, join(root, 'out'))
    expect(r.skipped).toEqual([join(root, 'out', 'a')])
    expect(readdirSync(canary)).toEqual([])
    // with force the link itself is replaced by a real directory; its target is untouched
    const f = await writeTreeInPlace(store.exporter, cid, root, join(root, 'out'), { force: true })
    expect(f.skipped).toEqual([])
    expect(lstatSync(join(root, 'out', 'a')).isDirectory()).toBe(true)
    expect(readFileSync(join(root, 'out', 'a', 'b', 'deep.txt'), 'utf8')).toBe('deep')
    expect(readdirSync(canary)).toEqual([])
  })

  it('keeps a symlink at the destination itself where the DAG has a directory', async () => {
    const cid = await importTree(benignTree())
    const root = dir('proj')
    const canary = dir('canary')
    symlinkSync(canary, join(root, 'out'))
    const r = await writeTreeInPlace(store.exporter, cid, root, join(root, 'out'))
    expect(r).toEqual({ written: 0, unchanged: 0, skipped: [join(root, 'out')] })
    expect(readdirSync(canary)).toEqual([])
  })

  it('replaces a symlink where the DAG has a file instead of writing through it', async () => {
    const leaf = await rawLeaf('new content')
    const root = dir('proj')
    const canary = join(dir('canary'), 'target')
    writeFileSync(canary, 'precious')
    symlinkSync(canary, join(root, 'f'))
    await writeTreeInPlace(store.exporter, leaf, root, join(root, 'f'), { force: true })
    expect(readFileSync(canary, 'utf8')).toBe('precious')
    expect(lstatSync(join(root, 'f')).isFile()).toBe(true)
  })

  it('refuses a destination whose parent is a symlink, or one outside the root', async () => {
    const leaf = await rawLeaf('x')
    const root = dir('proj')
    const canary = dir('canary')
    symlinkSync(canary, join(root, 'data'))
    await expect(writeTreeInPlace(store.exporter, leaf, root, join(root, 'data', 'f'))).rejects.toMatchObject({ name: 'UnsafePathError' })
    await expect(writeTreeInPlace(store.exporter, leaf, root, join(root, '..', 'f'))).rejects.toMatchObject({ name: 'UnsafePathError' })
    await expect(writeTreeInPlace(store.exporter, leaf, root, root)).rejects.toMatchObject({ name: 'UnsafePathError' })
    expect(readdirSync(canary)).toEqual([])
  })

  it('keeps a directory of unknown content where the DAG has a file, unless forced', async () => {
    const leaf = await rawLeaf('x')
    const root = dir('proj')
    mkdirSync(join(root, 'f'))
    writeFileSync(join(root, 'f', 'mine'), 'keep')
    const r = await writeTreeInPlace(store.exporter, leaf, root, join(root, 'f'))
    expect(r.skipped).toEqual([join(root, 'f')])
    expect(readFileSync(join(root, 'f', 'mine'), 'utf8')).toBe('keep')
  })
})

describe('removeInside', () => {
  it('removes only below the root, never through a symlinked parent', async () => {
    const root = dir('proj')
    const canary = dir('canary')
    writeFileSync(join(canary, 'out'), 'precious')
    symlinkSync(canary, join(root, 'data'))
    await expect(removeInside(root, join(root, 'data', 'out'))).rejects.toMatchObject({ name: 'UnsafePathError' })
    expect(readFileSync(join(canary, 'out'), 'utf8')).toBe('precious')
    mkdirSync(join(root, 'real'))
    writeFileSync(join(root, 'real', 'out'), 'x')
    await removeInside(root, join(root, 'real', 'out'))
    expect(existsSync(join(root, 'real', 'out'))).toBe(false)
  })
})

describe('bombs: a few blocks that name endless bytes or entries', () => {
  /** A file node linking the same leaf `times` times: `times` x 64 KiB of content from two blocks. */
  async function bombFile (times: number): Promise<CID> {
    const leaf = await rawLeaf('x'.repeat(65_536))
    const bytes = dagPb.encode({ Data: new UnixFS({ type: 'file', blockSizes: Array.from({ length: times }, () => 65_536n) }).marshal(), Links: Array.from({ length: times }, () => ({ Hash: leaf, Tsize: 65_536 })) })
    const cid = cidOf(DAG_PB_CODEC, bytes)
    await store.blockstore.put(cid, bytes)
    await store.blockstore.commit()
    return cid
  }

  /** Keeps exactly `headroomBytes` of the filesystem's current free space usable by writers. */
  async function withFloor<T> (headroomBytes: number, fn: () => Promise<T>): Promise<T> {
    const fs = await statfs(work)
    process.env.MLP_FREE_FLOOR_BYTES = String(fs.bavail * fs.bsize - headroomBytes)
    try {
      return await fn()
    } finally {
      delete process.env.MLP_FREE_FLOOR_BYTES
    }
  }

  it('a repeated-leaf file stops at the free-disk floor, leaves nothing behind, and a small file still fits', async () => {
    const bomb = await bombFile(4096) // 256 MiB named by 2 blocks
    const dest = join(dir('bomb'), 'out')
    await withFloor(32 * 1024 * 1024, async () => {
      await expect(writeTreeNew(store.exporter, bomb, dest)).rejects.toThrow(/disk full while writing/)
    })
    expect(existsSync(dest)).toBe(false)
    expect(readdirSync(join(dest, '..'))).toEqual([])
    // positive control: the same floor lets an ordinary file through
    const small = await bombFile(4)
    await withFloor(32 * 1024 * 1024, async () => { await writeTreeNew(store.exporter, small, dest) })
    expect(lstatSync(dest).size).toBe(4 * 65_536)
  })

  it('a directory naming one subtree under many names is bounded by the same floor', async () => {
    const sub = await bombFile(16) // 1 MiB
    const names: Array<[string, CID]> = Array.from({ length: 200 }, (_, i) => [`f${i}`, sub])
    const bomb = await hostileDir(names) // 200 MiB from 3 blocks
    const dest = join(dir('dirbomb'), 'out')
    await withFloor(32 * 1024 * 1024, async () => {
      await expect(writeTreeNew(store.exporter, bomb, dest)).rejects.toThrow(/disk full while writing/)
    })
    expect(existsSync(dest)).toBe(false)
  })
})

describe('many files written at once', () => {
  /** A directory of 200 files in 4 subdirectories, each file's text its own path. */
  async function manyFiles (missing?: number): Promise<CID> {
    const subs: Array<[string, CID]> = []
    for (let s = 0; s < 4; s++) {
      const files: Array<[string, CID]> = []
      for (let f = 0; f < 50; f++) {
        const i = s * 50 + f
        const text = `sub${s}/file${f}\n`.repeat(1 + (i % 7))
        // the missing one is named but never stored
        files.push([`file${f}`, i === missing ? cidOf(RAW_CODEC, Buffer.from(`never stored ${i}`)) : await rawLeaf(text)])
      }
      subs.push([`sub${s}`, await hostileDir(files)])
    }
    return await hostileDir(subs)
  }

  it('writes every file of a wide tree byte for byte (control)', async () => {
    const dest = join(dir('many'), 'out')
    const r = await writeTreeNew(store.exporter, await manyFiles(), dest)
    expect(r.written).toBe(200)
    for (let i = 0; i < 200; i++) {
      const s = Math.floor(i / 50)
      const f = i % 50
      expect(readFileSync(join(dest, `sub${s}`, `file${f}`), 'utf8')).toBe(`sub${s}/file${f}\n`.repeat(1 + (i % 7)))
    }
  })

  it('one unreadable file fails the whole new tree: nothing at the destination, no temporary left, nothing written after', async () => {
    const parent = dir('many-fail')
    const dest = join(parent, 'out')
    await expect(writeTreeNew(store.exporter, await manyFiles(77), dest)).rejects.toThrow(/not in the local store/)
    expect(existsSync(dest)).toBe(false)
    expect(readdirSync(parent)).toEqual([])
    // files still being written when the failure came are finished or gone before the call returned: nothing appears later
    await new Promise((resolve) => setTimeout(resolve, 50))
    expect(readdirSync(parent)).toEqual([])
  })
})

describe('failing early and reporting in walk order, with files written at once', () => {
  async function symlinkNode (target: string): Promise<CID> {
    const bytes = dagPb.encode({ Data: new UnixFS({ type: 'symlink', data: Buffer.from(target) }).marshal(), Links: [] })
    const cid = cidOf(DAG_PB_CODEC, bytes)
    await store.blockstore.put(cid, bytes)
    await store.blockstore.commit()
    return cid
  }

  for (const refused of [true, false]) {
    it(refused ? 'a refused symlink first in the walk stops the write before any file after it' : 'the same tree with an allowed symlink name is written whole (control)', async () => {
      const entries: Array<[string, CID]> = [[refused ? '.gitattributes' : '.zlink', await symlinkNode('/etc/passwd')]]
      for (let i = 0; i < 100; i++) entries.push([`f${String(i).padStart(3, '0')}`, await rawLeaf(`file ${i}\n`)])
      const root = dir('refuse')
      const dest = join(root, 'out')
      const write = writeTreeInPlace(store.exporter, await hostileDir(entries), root, dest, {})
      if (refused) {
        await expect(write).rejects.toThrow(/refused/)
        expect(readdirSync(dest).filter((n) => n.startsWith('f'))).toEqual([])
      } else {
        expect((await write).written).toBe(101)
        expect(readlinkSync(join(dest, '.zlink'))).toBe('/etc/passwd')
      }
    })
  }

  it('local edits kept are listed in walk order, one-block and bigger files alike', async () => {
    const src = dir('order-src')
    for (let i = 0; i < 80; i++) writeFileSync(join(src, `a${String(i).padStart(2, '0')}`), `small ${i}\n`)
    // several blocks each: written by the concurrent path
    for (let i = 0; i < 4; i++) writeFileSync(join(src, `z${i}`), Buffer.alloc(3 * 1024 * 1024, i + 1))
    const tree = await importTree(src)
    const root = dir('order')
    const dest = join(root, 'out')
    await writeTreeNew(store.exporter, tree, dest)
    // every file there is then edited, a version the store does not know: all are kept
    const names = readdirSync(dest).sort()
    for (const n of names) writeFileSync(join(dest, n), 'edited\n', { flag: 'a' })
    const existing = new Map(names.map((n) => [n, 'an id the store does not know']))
    const r = await writeTreeInPlace(store.exporter, tree, root, dest, { existing, known: async () => false })
    expect(r.written).toBe(0)
    expect(r.skipped).toEqual(names.map((n) => join(dest, n)))
  })
})
