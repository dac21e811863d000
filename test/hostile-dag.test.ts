import * as dagPb from '@ipld/dag-pb'
import { UnixFS } from 'ipfs-unixfs'
import { execFileSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { chmodSync, existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, readlinkSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import type { CID } from 'multiformats/cid'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { DAG_PB_CODEC, RAW_CODEC } from '../packages/daemon/src/store/constants.js'
import { cidOf } from '../packages/daemon/src/store/hash.js'
import { openStore, type Store } from '../packages/daemon/src/store/index.js'
import { mlp, mlpJson, tempDir } from './helpers/cli.js'
import { DaemonPool, type TestDaemon } from './helpers/daemons.js'

// Hostile DAGs (entry names `../x`, `..`, `.git` spellings, a symlink and a
// directory of the same name...) served by a real daemon and met through
// `mlp fetch -o`, `mlp checkout` and `mlp pull`: each must fail with one line,
// write nothing outside its destination, leave the project and .git intact
// and the daemon answering. Beside each, a benign DAG takes the same road.

const pool = new DaemonPool()
afterAll(async () => { await pool.cleanup() })

/** Both daemons hold this key, so they are teammates whatever exchange scoping applies. */
const SWARM_KEY = `/key/swarm/psk/1.0.0/\n/base16/\n${randomBytes(32).toString('hex')}\n`
/** Tests that loop over every hostile DAG run a dozen CLI commands: room for a loaded 2-core machine. */
const LOOP_TIMEOUT_MS = 240_000
/** Where the many-`..` name would land: /tmp/<this>/x. */
const ESCAPE_DIR = `mlp-hostile-${randomBytes(6).toString('hex')}`

type Entry = [name: string, cid: CID]

/** Builds blocks straight into a stopped daemon's store, bypassing buildDirectory's checks. */
class Builder {
  constructor (private readonly store: Store) {}

  private async put (bytes: Uint8Array, codec = DAG_PB_CODEC): Promise<CID> {
    const cid = cidOf(codec, bytes)
    await this.store.blockstore.put(cid, bytes)
    return cid
  }

  async raw (text: string): Promise<CID> {
    return await this.put(Buffer.from(text), RAW_CODEC)
  }

  async exec (text: string): Promise<CID> {
    return await this.put(dagPb.encode({ Data: new UnixFS({ type: 'file', data: Buffer.from(text), mode: 0o755 }).marshal(), Links: [] }))
  }

  async symlink (target: string): Promise<CID> {
    return await this.put(dagPb.encode({ Data: new UnixFS({ type: 'symlink', data: Buffer.from(target) }).marshal(), Links: [] }))
  }

  async dir (entries: Entry[]): Promise<CID> {
    const sorted = [...entries].sort((a, b) => Buffer.compare(Buffer.from(a[0]), Buffer.from(b[0])))
    return await this.put(dagPb.encode({ Data: new UnixFS({ type: 'directory' }).marshal(), Links: sorted.map(([name, cid]) => ({ Name: name, Hash: cid, Tsize: 64 })) }))
  }
}

interface Roots {
  hostile: Record<string, string>
  /** A DAG holding `.git/hooks/post-checkout`, for a pointer with `path: .`. */
  dotGitTree: string
  benign: string
}

/** Stores every test DAG in `home`'s store (the daemon not yet started). */
async function buildDags (home: string, canary: string): Promise<Roots> {
  const store = await openStore(join(home, 'store'))
  try {
    const b = new Builder(store)
    const pwned = await b.raw('pwned\n')
    const hook = await b.exec('#!/bin/sh\necho pwned > /tmp/pwned\n')
    const hooks = await b.dir([['pre-commit', hook], ['post-checkout', hook]])
    const ok = await b.raw('ordinary\n')
    const hostile: Record<string, CID> = {
      'entry ../x': await b.dir([['ok.txt', ok], ['../x', pwned]]),
      'entry a/../../x': await b.dir([['a/../../x', pwned]]),
      'entry .. (a directory)': await b.dir([['..', await b.dir([['pwned', pwned]])]]),
      'entry ../../../../tmp/<dir>/x': await b.dir([[`../../../../tmp/${ESCAPE_DIR}/x`, pwned]]),
      'entry ../.git/hooks/pre-commit, mode 755, one level down': await b.dir([['ok.txt', ok], ['sub', await b.dir([['../.git/hooks/pre-commit', hook]])]]),
      'entry .GIT holding hooks': await b.dir([['.GIT', await b.dir([['hooks', hooks]])]]),
      'entry .g\\u200cit (HFS+ spelling)': await b.dir([['.g\u200cit', await b.dir([['hooks', hooks]])]]),
      'entry git~1 (NTFS short name)': await b.dir([['git~1', await b.dir([['hooks', hooks]])]]),
      'symlink s -> canary, then a directory s': await b.dir([['s', await b.symlink(canary)], ['s', await b.dir([['file', pwned]])]]),
      'absolute-ish entry /tmp/<dir>/abs': await b.dir([[`/tmp/${ESCAPE_DIR}/abs`, pwned]]),
      'entry with a backslash ..\\x': await b.dir([['..\\x', pwned]])
    }
    const dotGitTree = await b.dir([['.git', await b.dir([['hooks', hooks]])], ['ok.txt', ok]])
    // benign: .gitignore, nested dirs, an executable file, a symlink
    const benign = await b.dir([
      ['.gitignore', await b.raw('*.tmp\n')],
      ['nested', await b.dir([['deeper', await b.dir([['leaf.txt', await b.raw('leaf\n')]])]])],
      ['run.sh', await b.exec('#!/bin/sh\necho hi\n')],
      ['link', await b.symlink('nested/deeper/leaf.txt')],
      ['with space.txt', ok]
    ])
    return { hostile: Object.fromEntries(Object.entries(hostile).map(([k, v]) => [k, v.toString()])), dotGitTree: dotGitTree.toString(), benign: benign.toString() }
  } finally {
    await store.close()
  }
}

/** A git repository made an mlp project at `dir` (inside a canary dir the test watches), with one commit. */
async function project (d: TestDaemon, dir: string): Promise<string> {
  mkdirSync(dir, { recursive: true })
  execFileSync('git', ['init', '-q'], { cwd: dir })
  await mlpJson(d.home, ['init'], { cwd: dir })
  git(dir, ['add', '-A'])
  git(dir, ['commit', '-q', '-m', 'init'])
  return dir
}

function git (cwd: string, args: string[]): string {
  return execFileSync('git', ['-c', 'user.email=t@example.com', '-c', 'user.name=t', ...args], { cwd, encoding: 'utf8' })
}

/** Writes and commits a pointer file naming `cid` at `path`. */
function commitPointer (proj: string, path: string, cid: string): void {
  writeFileSync(join(proj, 'data.mlp'), `outs:\n  - path: ${JSON.stringify(path)}\n    cid: ${cid}\n    size: 1\n`)
  git(proj, ['add', 'data.mlp'])
  git(proj, ['commit', '-q', '-m', `pointer to ${cid}`])
}

/** Hooks git ships are `*.sample`; any other file there was planted. */
function plantedHooks (proj: string): string[] {
  return readdirSync(join(proj, '.git', 'hooks')).filter((f) => !f.endsWith('.sample'))
}

/** Everything the test must find intact after a refused command. */
async function expectRefusedCleanly (r: { code: number, stderr: string }, d: TestDaemon, around: string, expected: string[], proj?: string): Promise<void> {
  expect(r.code).not.toBe(0)
  const lines = r.stderr.trim().split('\n')
  expect(lines, r.stderr).toHaveLength(1)
  expect(lines[0]).toMatch(/refused|symlink|path/i)
  // nothing new beside the destination, nothing where the many-`..` and absolute names point
  expect(readdirSync(around).sort()).toEqual(expected.sort())
  expect(existsSync(join('/tmp', ESCAPE_DIR))).toBe(false)
  expect(existsSync('/tmp/x')).toBe(false)
  if (proj != null) {
    expect(plantedHooks(proj)).toEqual([])
    expect(existsSync(join(proj, '.mlp'))).toBe(true)
    expect(() => git(proj, ['status', '--porcelain'])).not.toThrow()
    expect(git(proj, ['log', '--oneline']).trim().split('\n').length).toBeGreaterThan(1)
  }
  const t = Date.now()
  expect((await mlpJson(d.home, ['id'])).peerId).toBe(d.peerId)
  expect(Date.now() - t).toBeLessThan(10_000)
}

/** The benign DAG as written out: relative path -> content, link target or 'dir'. */
function benignShape (dir: string): void {
  expect(readFileSync(join(dir, '.gitignore'), 'utf8')).toBe('*.tmp\n')
  expect(readFileSync(join(dir, 'nested', 'deeper', 'leaf.txt'), 'utf8')).toBe('leaf\n')
  expect(readFileSync(join(dir, 'with space.txt'), 'utf8')).toBe('ordinary\n')
  expect(lstatSync(join(dir, 'run.sh')).mode & 0o111).not.toBe(0)
  expect(lstatSync(join(dir, 'link')).isSymbolicLink()).toBe(true)
  expect(readlinkSync(join(dir, 'link'))).toBe('nested/deeper/leaf.txt')
}

let a: TestDaemon
let c: TestDaemon
let roots: Roots
let canary: string

beforeAll(async () => {
  canary = await tempDir('mlp-canary-')
  const homeA = await pool.home()
  writeFileSync(join(homeA, 'swarm.key'), SWARM_KEY)
  roots = await buildDags(homeA, canary)
  a = await pool.start(homeA)
  const homeC = await pool.home()
  writeFileSync(join(homeC, 'swarm.key'), SWARM_KEY)
  c = await pool.start(homeC)
  await mlpJson(c.home, ['peers', 'add', a.addrs[0]])
  // shared too, for exchange that serves strangers only shared roots
  await mlpJson(a.home, ['share', ...Object.values(roots.hostile), roots.dotGitTree, roots.benign])
})

describe('mlp fetch -o', () => {
  it('positive control: a benign DAG round-trips', async () => {
    const around = await tempDir()
    const r = await mlp(c.home, ['fetch', roots.benign, '-o', join(around, 'dest')])
    expect(r.code, r.stderr).toBe(0)
    benignShape(join(around, 'dest'))
    expect(readdirSync(around)).toEqual(['dest'])
  })

  it('refuses every hostile DAG with one line, writing nothing', async () => {
    for (const [what, cid] of Object.entries(roots.hostile)) {
      const around = await tempDir()
      const r = await mlp(c.home, ['fetch', cid, '-o', join(around, 'dest')])
      await expectRefusedCleanly(r, c, around, [])
      expect(readdirSync(canary), what).toEqual([])
    }
  }, LOOP_TIMEOUT_MS)

  it('refuses a fetch without -o too, naming the bad entry', async () => {
    const cid = roots.hostile['entry ../x']
    const r = await mlp(c.home, ['fetch', cid])
    expect(r.code).not.toBe(0)
    expect(r.stderr.trim().split('\n')).toHaveLength(1)
    expect(r.stderr).toContain('"../x"')
  })
})

describe('mlp checkout', () => {
  it('positive control: a benign DAG checks out in a project', async () => {
    const around = await tempDir()
    const proj = await project(a, join(around, 'proj'))
    commitPointer(proj, 'data', roots.benign)
    const r = await mlp(a.home, ['checkout'], { cwd: proj })
    expect(r.code, r.stderr).toBe(0)
    benignShape(join(proj, 'data'))
    // and a second checkout changes nothing
    expect(await mlpJson(a.home, ['checkout'], { cwd: proj })).toBeDefined()
    benignShape(join(proj, 'data'))
  })

  it('refuses every hostile DAG: project, .git and everything around intact', async () => {
    const around = await tempDir()
    const proj = await project(a, join(around, 'proj'))
    for (const [what, cid] of Object.entries(roots.hostile)) {
      commitPointer(proj, 'data', cid)
      const r = await mlp(a.home, ['checkout'], { cwd: proj })
      await expectRefusedCleanly(r, a, around, ['proj'], proj)
      expect(readdirSync(canary), what).toEqual([])
      // only what the DAG holds under its own name may be there
      expect(readdirSync(proj).filter((f) => !['.git', '.mlp', '.gitignore', 'data.mlp', 'data'].includes(f)), what).toEqual([])
      rmSync(join(proj, 'data'), { recursive: true, force: true })
    }
  }, LOOP_TIMEOUT_MS)

  it('refuses a pointer with path "." whose DAG holds .git/hooks', async () => {
    const around = await tempDir()
    const proj = await project(a, join(around, 'proj'))
    commitPointer(proj, '.', roots.dotGitTree)
    const r = await mlp(a.home, ['checkout'], { cwd: proj })
    await expectRefusedCleanly(r, a, around, ['proj'], proj)
    expect(existsSync(join(proj, 'ok.txt'))).toBe(false)
    for (const path of ['.git', '.git/hooks/x', 'a/../b', '/etc/passwd', '../data']) {
      commitPointer(proj, path, roots.benign)
      await expectRefusedCleanly(await mlp(a.home, ['checkout'], { cwd: proj }), a, around, ['proj'], proj)
    }
  }, LOOP_TIMEOUT_MS)

  it('never writes through a symlinked directory in the project', async () => {
    const around = await tempDir()
    const proj = await project(a, join(around, 'proj'))
    symlinkSync(canary, join(proj, 'lnk'))
    commitPointer(proj, 'lnk/data', roots.benign)
    await expectRefusedCleanly(await mlp(a.home, ['checkout'], { cwd: proj }), a, around, ['proj'], proj)
    expect(readdirSync(canary)).toEqual([])
  })

  it('refuses a pointer file over 1 MiB with one line', async () => {
    const around = await tempDir()
    const proj = await project(a, join(around, 'proj'))
    writeFileSync(join(proj, 'big.mlp'), `outs:\n  - path: data\n    cid: ${roots.benign}\n    size: 1\n# ${'x'.repeat(2 * 1024 * 1024)}\n`)
    const r = await mlp(a.home, ['checkout'], { cwd: proj })
    expect(r.code).not.toBe(0)
    expect(r.stderr.trim().split('\n')).toHaveLength(1)
    expect(r.stderr).toContain('at most')
  })
})

describe('mlp pull', () => {
  it('positive control: a benign DAG is fetched and checked out', async () => {
    const around = await tempDir()
    const proj = await project(c, join(around, 'proj'))
    commitPointer(proj, 'data', roots.benign)
    const r = await mlp(c.home, ['pull'], { cwd: proj })
    expect(r.code, r.stderr).toBe(0)
    benignShape(join(proj, 'data'))
  })

  it('refuses every hostile DAG: project, .git and everything around intact', async () => {
    const around = await tempDir()
    const proj = await project(c, join(around, 'proj'))
    for (const [what, cid] of Object.entries(roots.hostile)) {
      commitPointer(proj, 'data', cid)
      const r = await mlp(c.home, ['pull'], { cwd: proj })
      await expectRefusedCleanly(r, c, around, ['proj'], proj)
      expect(readdirSync(canary), what).toEqual([])
      expect(readdirSync(proj).filter((f) => !['.git', '.mlp', '.gitignore', 'data.mlp', 'data'].includes(f)), what).toEqual([])
      rmSync(join(proj, 'data'), { recursive: true, force: true })
    }
  }, LOOP_TIMEOUT_MS)
})

describe('mlp add', () => {
  it('still tracks ordinary names, and refuses a directory holding names it could not write back', async () => {
    const around = await tempDir()
    const proj = await project(a, join(around, 'proj'))
    mkdirSync(join(proj, 'data', 'sub'), { recursive: true })
    writeFileSync(join(proj, 'data', '.gitignore'), 'x\n')
    writeFileSync(join(proj, 'data', 'sub', 'é.txt'), 'e\n')
    writeFileSync(join(proj, 'data', 'run.sh'), 'echo\n')
    chmodSync(join(proj, 'data', 'run.sh'), 0o755)
    expect((await mlp(a.home, ['add', 'data'], { cwd: proj })).code).toBe(0)
    mkdirSync(join(proj, 'clash'))
    writeFileSync(join(proj, 'clash', 'README'), '1')
    writeFileSync(join(proj, 'clash', 'readme'), '2')
    const r = await mlp(a.home, ['add', 'clash'], { cwd: proj })
    expect(r.code).not.toBe(0)
    expect(r.stderr).toContain('"README"')
    expect(existsSync(join(proj, 'clash.mlp'))).toBe(false)
  })
})
