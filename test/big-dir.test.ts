import * as dagPb from '@ipld/dag-pb'
import { UnixFS } from 'ipfs-unixfs'
import { execFileSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { DAG_PB_CODEC, RAW_CODEC } from '../packages/daemon/src/store/constants.js'
import { buildDirectory, type Link } from '../packages/daemon/src/store/dag.js'
import { hamtHash } from '../packages/daemon/src/store/hamt.js'
import { cidOf } from '../packages/daemon/src/store/hash.js'
import { openStore } from '../packages/daemon/src/store/index.js'
import { mlp, tempDir } from './helpers/cli.js'
import { DaemonPool } from './helpers/daemons.js'
import { newProject } from './helpers/project.js'

const pool = new DaemonPool()
afterAll(async () => { await pool.cleanup() })

/**
 * Files in the one directory: its flat dag-pb node would be about 2.8 MB,
 * over the 2 MiB wire frame, which is what made such a directory unfetchable
 * before directories were sharded (issue 13 measured 2.6 MB for 45,000). The
 * least that shows it: the checkout of each file costs most of the run.
 */
const FILES = 45_000
/** Where the hostile `..` name would land: /tmp/<this>. */
const ESCAPE = `mlp-hamt-escape-${process.pid}`

/** `mlp <args> --json` with a limit that fits tens of thousands of files on a busy 2-core machine. */
async function json<T = any> (home: string, args: string[], cwd?: string): Promise<T> {
  const r = await mlp(home, [...args, '--json'], { cwd, timeoutMs: 300_000 })
  if (r.code !== 0) throw new Error(`mlp ${args.join(' ')} failed (${r.code}): ${r.stderr}`)
  return JSON.parse(r.stdout) as T
}

/** Sorted names and sha256 of every file of a flat directory. */
function listing (dir: string): string[] {
  return readdirSync(dir).sort().map((name) => `${name} ${createHash('sha256').update(readFileSync(join(dir, name))).digest('hex')}`)
}

describe('a directory too big for one node', () => {
  it(`${FILES} files in one directory: add on A, pull on B byte-identical, status clean`, async () => {
    const [a, b] = [await pool.start(), await pool.start()]
    await json(b.home, ['peers', 'add', a.addrs[0]])
    const proj = await newProject(a.home)
    const data = join(proj, 'data')
    mkdirSync(data)
    for (let i = 0; i < FILES; i++) writeFileSync(join(data, `file-${String(i).padStart(6, '0')}.txt`), `${i}\n`)
    const added = await json<Array<{ path: string, cid: string }>>(a.home, ['add', 'data'], proj)
    expect(added[0].path).toBe('data')

    const clone = join(await tempDir(), 'clone')
    execFileSync('git', ['clone', '-q', proj, clone])
    execFileSync('cp', [join(proj, 'data.mlp'), join(proj, '.gitignore'), clone])
    execFileSync('cp', ['-r', join(proj, '.mlp'), clone])
    const pulled = await json(b.home, ['pull'], clone)
    expect(pulled.checkout[0]).toMatchObject({ path: 'data' })
    expect(listing(join(clone, 'data'))).toEqual(listing(data))
    const st = await json(b.home, ['status'], clone)
    expect(st.outs).toEqual([expect.objectContaining({ path: 'data', state: 'unchanged' })])
  }, 600_000)
})

describe('sharded directories from a peer', () => {
  it('a small sharded directory round-trips (control); one with a hostile entry name is refused, writing nothing', async () => {
    const homeA = await pool.home()
    const store = await openStore(join(homeA, 'store'))
    let benign: string
    let hostile: string
    try {
      const put = async (codec: number, bytes: Uint8Array): Promise<Link> => {
        const cid = cidOf(codec, bytes)
        await store.blockstore.put(cid, bytes)
        return { cid, size: bytes.length, tsize: bytes.length }
      }
      const files = await Promise.all(['a.txt', 'b.txt', 'c.txt'].map(async (name) => ({ name, link: await put(RAW_CODEC, Buffer.from(`${name}\n`)) })))
      // a threshold of 1 byte: sharded however small, as a 100,000-file one would be
      benign = (await buildDirectory(files, async (cid, bytes) => { await store.blockstore.put(cid, bytes) }, 1)).cid.toString()
      // written by hand: buildDirectory refuses the name; its bucket is the right one, so only the name check stops it
      const bad = `../../../../tmp/${ESCAPE}`
      const link = (name: string, l: Link): dagPb.PBLink => ({ Name: hamtHash(name)[0].toString(16).toUpperCase().padStart(2, '0') + name, Hash: l.cid, Tsize: l.tsize })
      const links = [link('ok.txt', files[0].link), link(bad, files[1].link)].sort((x, y) => Buffer.compare(Buffer.from(x.Name ?? ''), Buffer.from(y.Name ?? '')))
      const data = new UnixFS({ type: 'hamt-sharded-directory', data: new Uint8Array(32), fanout: 256n, hashType: 0x22n })
      hostile = (await put(DAG_PB_CODEC, dagPb.encode({ Data: data.marshal(), Links: links }))).cid.toString()
    } finally {
      await store.close()
    }
    const a = await pool.start(homeA)
    const b = await pool.start()
    await json(b.home, ['peers', 'add', a.addrs[0]])

    const around = await tempDir()
    const ok = await mlp(b.home, ['fetch', benign, '-o', join(around, 'good')])
    expect(ok.code, ok.stderr).toBe(0)
    expect(readdirSync(join(around, 'good')).sort()).toEqual(['a.txt', 'b.txt', 'c.txt'])
    expect(readFileSync(join(around, 'good', 'b.txt'), 'utf8')).toBe('b.txt\n')

    const r = await mlp(b.home, ['fetch', hostile, '-o', join(around, 'bad')])
    expect(r.code).not.toBe(0)
    expect(r.stderr.trim().split('\n')).toHaveLength(1)
    expect(r.stderr).toMatch(/a name with a path separator.*refused/)
    expect(readdirSync(around)).toEqual(['good'])
    expect(existsSync(join('/tmp', ESCAPE))).toBe(false)
  }, 120_000)
})
