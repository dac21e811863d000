import { execFileSync } from 'node:child_process'
import { chmodSync, existsSync, lstatSync, mkdirSync, readFileSync, readlinkSync, rmSync, statSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { mlp, mlpJson, tempDir } from './helpers/cli.js'
import { DaemonPool, type TestDaemon } from './helpers/daemons.js'
import { newProject, sha256, writeRandom } from './helpers/project.js'

const pool = new DaemonPool()
let d: TestDaemon
beforeAll(async () => { d = await pool.start() })
afterAll(async () => { await pool.cleanup() })

interface Added { path: string, pointer: string, cid: string, size: number, nfiles: number, hashedFiles: number }

describe('add, status, checkout round trips', () => {
  it('files of 0 B, 1 B, one chunk and many chunks come back byte-identical', async () => {
    const proj = await newProject(d.home)
    writeFileSync(join(proj, 'empty.bin'), '')
    writeFileSync(join(proj, 'one.bin'), 'x')
    writeRandom(join(proj, 'chunk.bin'), 20_000)
    writeFileSync(join(proj, 'max.bin'), Buffer.alloc(256 * 1024))
    writeRandom(join(proj, 'many.bin'), 5_000_000)
    const names = ['empty.bin', 'one.bin', 'chunk.bin', 'max.bin', 'many.bin']
    const before = Object.fromEntries(names.map((n) => [n, sha256(join(proj, n))]))
    const added = await mlpJson<Added[]>(d.home, ['add', ...names], { cwd: proj })
    expect(added.map((a) => [a.path, a.size, a.nfiles])).toEqual([['empty.bin', 0, 1], ['one.bin', 1, 1], ['chunk.bin', 20_000, 1], ['max.bin', 262_144, 1], ['many.bin', 5_000_000, 1]])
    // a one-chunk file is its raw leaf; a many-chunk file is a dag-pb node
    expect(added[1].cid).toMatch(/^bafkr4/)
    expect(added[4].cid).toMatch(/^bafyb4/)
    expect(readFileSync(join(proj, 'many.bin.mlp'), 'utf8')).toBe(`outs:\n  - path: many.bin\n    cid: ${added[4].cid}\n    size: 5000000\n`)
    expect(readFileSync(join(proj, '.gitignore'), 'utf8').split('\n')).toEqual(expect.arrayContaining(names.map((n) => `/${n}`)))

    for (const n of names) rmSync(join(proj, n))
    const st = await mlpJson(d.home, ['status'], { cwd: proj })
    expect(st.outs.map((o: { state: string }) => o.state)).toEqual(['missing', 'missing', 'missing', 'missing', 'missing'])
    await mlpJson(d.home, ['checkout'], { cwd: proj })
    for (const n of names) expect(sha256(join(proj, n)), n).toBe(before[n])

    // cat serves the same bytes
    const r = execFileSync(process.execPath, [join(__dirname, '../packages/cli/bin/run.js'), 'cat', added[4].cid], { env: { ...process.env, MLP_HOME: d.home }, maxBuffer: 64 << 20 })
    expect(r.equals(readFileSync(join(proj, 'many.bin')))).toBe(true)
  })

  it('a file large enough to be chunked on a worker thread comes back byte-identical, and rehashes to the same id', async () => {
    const proj = await newProject(d.home)
    writeRandom(join(proj, 'huge.bin'), 70 * 1024 * 1024)
    const sum = sha256(join(proj, 'huge.bin'))
    const [added] = await mlpJson<Added[]>(d.home, ['add', 'huge.bin'], { cwd: proj })
    // a new mtime defeats the stat cache: status hashes the file again (off the store)
    const later = new Date(Date.now() + 5_000)
    utimesSync(join(proj, 'huge.bin'), later, later)
    const st = await mlpJson(d.home, ['status'], { cwd: proj })
    expect(st.outs).toMatchObject([{ path: 'huge.bin', state: 'unchanged' }])
    expect(st.hashedFiles).toBe(1)
    rmSync(join(proj, 'huge.bin'))
    await mlpJson(d.home, ['checkout'], { cwd: proj })
    expect(sha256(join(proj, 'huge.bin'))).toBe(sum)
    expect(added.size).toBe(70 * 1024 * 1024)
  })

  it('a nested directory keeps empty dirs, executable modes and symlinks', async () => {
    const proj = await newProject(d.home)
    const data = join(proj, 'data')
    mkdirSync(join(data, 'a/b/c'), { recursive: true })
    mkdirSync(join(data, 'empty'))
    writeFileSync(join(data, 'a/b/c/deep.txt'), 'deep\n')
    writeFileSync(join(data, 'run.sh'), '#!/bin/sh\necho hi\n')
    chmodSync(join(data, 'run.sh'), 0o755)
    writeRandom(join(data, 'a/blob.bin'), 700_000)
    symlinkSync('run.sh', join(data, 'link'))
    const [added] = await mlpJson<Added[]>(d.home, ['add', 'data'], { cwd: proj })
    expect(added.nfiles).toBe(4)
    expect(added.size).toBe(5 + 18 + 700_000)
    const blob = sha256(join(data, 'a/blob.bin'))

    const ls = await mlpJson<Array<{ name: string, kind: string, size: number }>>(d.home, ['ls', added.cid])
    expect(ls.map((e) => [e.name, e.kind])).toEqual([['a', 'dir'], ['empty', 'dir'], ['link', 'symlink'], ['run.sh', 'file']])
    expect(ls.find((e) => e.name === 'run.sh')?.size).toBe(18)

    rmSync(data, { recursive: true })
    await mlpJson(d.home, ['checkout', 'data'], { cwd: proj })
    expect(statSync(join(data, 'empty')).isDirectory()).toBe(true)
    expect(statSync(join(data, 'run.sh')).mode & 0o777).toBe(0o755)
    expect(statSync(join(data, 'a/b/c/deep.txt')).mode & 0o111).toBe(0)
    expect(readlinkSync(join(data, 'link'))).toBe('run.sh')
    expect(sha256(join(data, 'a/blob.bin'))).toBe(blob)

    // changing only the mode is a change
    chmodSync(join(data, 'a/b/c/deep.txt'), 0o755)
    const st = await mlpJson(d.home, ['status'], { cwd: proj })
    expect(st.outs[0]).toMatchObject({ state: 'modified', changes: { added: [], modified: ['a/b/c/deep.txt'], deleted: [] } })
  })

  it('unchanged data is not rehashed by add or status; changes are listed', async () => {
    const proj = await newProject(d.home)
    const data = join(proj, 'data')
    mkdirSync(data)
    for (let i = 0; i < 50; i++) writeRandom(join(data, `f${i}.bin`), 4096 + i)
    const [first] = await mlpJson<Added[]>(d.home, ['add', 'data'], { cwd: proj })
    expect(first.hashedFiles).toBe(50)
    const [again] = await mlpJson<Added[]>(d.home, ['add', 'data'], { cwd: proj })
    expect(again).toMatchObject({ cid: first.cid, hashedFiles: 0 })
    const clean = await mlpJson(d.home, ['status'], { cwd: proj })
    expect(clean).toMatchObject({ hashedFiles: 0, outs: [{ path: 'data', state: 'unchanged', inStore: true }] })

    writeFileSync(join(data, 'f3.bin'), 'changed')
    rmSync(join(data, 'f4.bin'))
    writeFileSync(join(data, 'new.txt'), 'new')
    const dirty = await mlpJson(d.home, ['status'], { cwd: proj })
    expect(dirty.hashedFiles).toBe(2)
    expect(dirty.outs[0]).toMatchObject({ state: 'modified', changes: { added: ['new.txt'], modified: ['f3.bin'], deleted: ['f4.bin'] } })
    const human = await mlp(d.home, ['status'], { cwd: proj })
    expect(human.stdout).toContain('modified: data')
    expect(human.stdout).toContain('deleted:  f4.bin')
  })

  it('status right after checkout reads no file; a same-size edit made at once is still seen', async () => {
    const proj = await newProject(d.home)
    const data = join(proj, 'data')
    mkdirSync(data)
    for (let i = 0; i < 200; i++) writeRandom(join(data, `f${i}.bin`), 2048 + i)
    writeRandom(join(data, 'big.bin'), 3_000_000)
    await mlpJson(d.home, ['add', 'data'], { cwd: proj })
    rmSync(data, { recursive: true })
    await mlpJson(d.home, ['checkout'], { cwd: proj })
    // mlp wrote these files: it knows their content, so nothing is read again
    expect(await mlpJson(d.home, ['status'], { cwd: proj })).toMatchObject({ hashedFiles: 0, outs: [{ state: 'unchanged' }] })
    // and again after a checkout that rewrites one file, edited the moment checkout returns
    rmSync(join(data, 'f7.bin'))
    await mlpJson(d.home, ['checkout'], { cwd: proj })
    const before = statSync(join(data, 'f7.bin'))
    writeRandom(join(data, 'f7.bin'), before.size)
    expect(statSync(join(data, 'f7.bin')).size).toBe(before.size)
    const st = await mlpJson(d.home, ['status'], { cwd: proj })
    expect(st.outs[0]).toMatchObject({ state: 'modified', changes: { modified: ['f7.bin'] } })
    expect(st.hashedFiles).toBe(1)
  })

  it('checkout refuses to overwrite local changes unless --force', async () => {
    const proj = await newProject(d.home)
    writeFileSync(join(proj, 'a.txt'), 'original\n')
    await mlpJson(d.home, ['add', 'a.txt'], { cwd: proj })
    writeFileSync(join(proj, 'a.txt'), 'local edit\n')
    // the store does not know the edited content: kept, reported, non-zero exit
    const keptRun = await mlp(d.home, ['checkout', '--json'], { cwd: proj })
    expect(keptRun.code).not.toBe(0)
    const [kept] = JSON.parse(keptRun.stdout).checkout
    expect(kept).toMatchObject({ written: 0, skipped: ['a.txt'] })
    expect(readFileSync(join(proj, 'a.txt'), 'utf8')).toBe('local edit\n')
    const human = await mlp(d.home, ['checkout'], { cwd: proj })
    expect(human.stdout).toContain('kept (local edit; --force to overwrite): a.txt')
    expect(human.stderr).toContain('--force')
    const [forced] = await mlpJson(d.home, ['checkout', '--force', 'a.txt'], { cwd: proj })
    expect(forced).toMatchObject({ written: 1, skipped: [] })
    expect(readFileSync(join(proj, 'a.txt'), 'utf8')).toBe('original\n')
    // no temporary files left behind
    expect(execFileSync('ls', ['-A', proj]).toString().split('\n').filter((n) => n.includes('mlp-tmp'))).toEqual([])
  })
})

describe('dedup, gc, verify, corruption', () => {
  it('two files sharing a large region share its blocks', async () => {
    const home = await pool.home()
    const dd = await pool.start(home)
    const proj = await newProject(dd.home)
    const shared = writeRandom(join(proj, 'a.bin'), 8_000_000)
    writeFileSync(join(proj, 'b.bin'), Buffer.concat([Buffer.from('a different header line\n'), shared, Buffer.from('and a footer\n')]))
    await mlpJson(dd.home, ['add', 'a.bin'], { cwd: proj })
    const one = (await mlpJson(dd.home, ['verify'])).checkedBytes
    await mlpJson(dd.home, ['add', 'b.bin'], { cwd: proj })
    const two = (await mlpJson(dd.home, ['verify'])).checkedBytes
    expect(one).toBeGreaterThanOrEqual(8_000_000)
    // the second file cost its edges, not its size
    expect(two - one).toBeLessThan(800_000)
  })

  it('gc frees what no pointer references and keeps the rest intact', async () => {
    const home = await pool.home()
    const dd = await pool.start(home)
    const proj = await newProject(dd.home)
    writeRandom(join(proj, 'keep.bin'), 3_000_000)
    writeRandom(join(proj, 'drop.bin'), 2_000_000)
    const keepSum = sha256(join(proj, 'keep.bin'))
    const [, drop] = await mlpJson<Added[]>(dd.home, ['add', 'keep.bin', 'drop.bin'], { cwd: proj })
    rmSync(join(proj, 'drop.bin.mlp'))
    const gc = await mlpJson(dd.home, ['gc'])
    expect(gc.removedBlocks).toBeGreaterThan(0)
    expect(gc.removedBytes).toBeGreaterThanOrEqual(2_000_000)
    expect(gc.removedBytes).toBeLessThan(2_100_000)
    const v = await mlpJson(dd.home, ['verify'])
    expect(v).toMatchObject({ corrupt: [], missing: [] })
    expect(v.checkedBytes).toBeGreaterThanOrEqual(3_000_000)
    const cat = await mlp(dd.home, ['cat', drop.cid])
    expect(cat.code).not.toBe(0)
    expect(cat.stderr).toContain('is not in the local store')
    rmSync(join(proj, 'keep.bin'))
    await mlpJson(dd.home, ['checkout'], { cwd: proj })
    expect(sha256(join(proj, 'keep.bin'))).toBe(keepSum)
    // a second gc finds nothing more to do
    expect((await mlpJson(dd.home, ['gc'])).removedBlocks).toBe(0)
  })

  it('a flipped byte is named by verify and never served by cat', async () => {
    const home = await pool.home()
    const dd = await pool.start(home)
    const proj = await newProject(dd.home)
    writeFileSync(join(proj, 'small.txt'), 'precious data\n')
    const [added] = await mlpJson<Added[]>(dd.home, ['add', 'small.txt'], { cwd: proj })
    await mlpJson(dd.home, ['daemon', 'stop'])
    const packs = join(home, 'store', 'packs')
    const pack = execFileSync('ls', [packs]).toString().trim().split('\n').map((n) => join(packs, n)).find((p) => readFileSync(p).includes('precious data')) as string
    const bytes = readFileSync(pack)
    const at = bytes.indexOf('precious data')
    bytes[at] ^= 0xff
    writeFileSync(pack, bytes)
    await pool.start(home)

    const v = await mlp(home, ['verify'])
    expect(v.code).not.toBe(0)
    expect(v.stdout).toContain(`corrupt: ${added.cid}`)
    expect(v.stderr.trim()).toMatch(/^Error: 1 corrupt and 0 missing blocks/)
    const cat = await mlp(home, ['cat', added.cid])
    expect(cat.code).not.toBe(0)
    expect(cat.stdout).toBe('')
    expect(cat.stderr).toContain(`block ${added.cid} is corrupt`)
  })
})

describe('bad input changes nothing', () => {
  it('init needs a git repository and refuses twice', async () => {
    const proj = await newProject(d.home)
    const twice = await mlp(d.home, ['init'], { cwd: proj })
    expect(twice.code).not.toBe(0)
    expect(twice.stderr).toContain('is already an mlp project')
    const bare = await tempDir('not-git-')
    const outside = await mlp(d.home, ['init'], { cwd: bare })
    expect(outside.stderr).toContain('is not inside a git repository')
    const noProject = await mlp(d.home, ['add', 'x'], { cwd: bare })
    expect(noProject.stderr).toContain('is not inside an mlp project')
  })

  it('missing paths, paths outside the project, symlinks, sockets', async () => {
    const proj = await newProject(d.home)
    writeFileSync(join(proj, 'ok.txt'), 'ok')
    const cases: Array<[string[], string]> = [
      [['add', 'ok.txt', 'missing.txt'], 'missing.txt does not exist'],
      [['add', '/etc/hostname'], 'is outside the project'],
      [['add', '.git'], 'inside .git/'],
      [['add', '.'], 'is the project root']
    ]
    symlinkSync('ok.txt', join(proj, 'link'))
    cases.push([['add', 'link'], 'is a symbolic link'])
    mkdirSync(join(proj, 'withsock'))
    writeFileSync(join(proj, 'withsock', 'a.txt'), 'a')
    const { createServer } = await import('node:net')
    const server = createServer()
    await new Promise<void>((resolve) => server.listen(join(proj, 'withsock', 'sock'), resolve))
    cases.push([['add', 'withsock'], 'is a socket'])
    try {
      for (const [args, message] of cases) {
        const r = await mlp(d.home, args, { cwd: proj })
        expect(r.code, args.join(' ')).not.toBe(0)
        expect(r.stderr.trim().split('\n'), args.join(' ')).toHaveLength(1)
        expect(r.stderr, args.join(' ')).toContain(message)
      }
    } finally {
      server.close()
    }
    // nothing was written for any of them
    expect(existsSync(join(proj, 'ok.txt.mlp'))).toBe(false)
    expect(existsSync(join(proj, 'withsock.mlp'))).toBe(false)
    expect(existsSync(join(proj, '.gitignore'))).toBe(false)
  })

  it('a malformed pointer file is named with its line', async () => {
    const proj = await newProject(d.home)
    writeFileSync(join(proj, 'x.mlp'), 'outs:\n  - path: x\n    cid: not-a-cid\n    size: 3\n')
    const r = await mlp(d.home, ['status'], { cwd: proj })
    expect(r.code).not.toBe(0)
    expect(r.stderr).toContain('x.mlp:3')
    expect(r.stderr).toContain("'not-a-cid' is not a content id")
    writeFileSync(join(proj, 'x.mlp'), 'outs:\n  - path: ../../etc/passwd\n    cid: bafkr4ieojr6bxgo37viopkkrqx7k2xxbish2sbfc7xlxr2xv6ln72yu2te\n    size: 3\n')
    const escape = await mlp(d.home, ['checkout'], { cwd: proj })
    expect(escape.code).not.toBe(0)
    expect(escape.stderr).toContain('must be relative and stay inside the project')
    writeFileSync(join(proj, 'x.mlp'), 'outs: [\n')
    expect((await mlp(d.home, ['status'], { cwd: proj })).stderr).toMatch(/x\.mlp:\d+: not valid YAML/)
  })

  it('unknown and invalid content ids', async () => {
    const unknown = 'bafkr4ieojr6bxgo37viopkkrqx7k2xxbish2sbfc7xlxr2xv6ln72yu2ta'
    const cat = await mlp(d.home, ['cat', 'bafkr4ihkr4ld3m4gqkjf4reryxsy2s5tkbxprqkow6fin2iiyvreuzzab4'])
    expect(cat.stderr).toContain('is not in the local store')
    const bad = await mlp(d.home, ['ls', unknown.slice(0, 20)])
    expect(bad.code).not.toBe(0)
    expect(bad.stderr).toContain('is not a content id')
  })
})

describe('crash safety', () => {
  it('kill -9 during a large add leaves a store that verifies, and a new add completes', async () => {
    const home = await pool.home()
    const dd = await pool.start(home)
    const proj = await newProject(dd.home)
    writeFileSync(join(proj, 'first.txt'), 'acknowledged before the crash\n')
    const [first] = await mlpJson<Added[]>(dd.home, ['add', 'first.txt'], { cwd: proj })
    writeRandom(join(proj, 'big.bin'), 400_000_000)
    const adding = mlp(dd.home, ['add', 'big.bin'], { cwd: proj })
    // wait until the import is under way (a pack is growing), then pull the plug
    const packs = join(home, 'store', 'packs')
    const deadline = Date.now() + 20_000
    while (Date.now() < deadline) {
      const sizes = execFileSync('ls', ['-l', packs]).toString()
      if (/\s\d{7,}\s/.test(sizes)) break
      await new Promise((resolve) => setTimeout(resolve, 20))
    }
    process.kill(dd.pid, 'SIGKILL')
    const crashed = await adding
    expect(crashed.code).not.toBe(0)
    expect(existsSync(join(proj, 'big.bin.mlp'))).toBe(false)

    await pool.start(home)
    const v = await mlpJson(home, ['verify'])
    expect(v).toMatchObject({ corrupt: [], missing: [] })
    const cat = await mlp(home, ['cat', first.cid])
    expect(cat.stdout).toBe('acknowledged before the crash\n')
    const [big] = await mlpJson<Added[]>(home, ['add', 'big.bin'], { cwd: proj })
    expect(big.size).toBe(400_000_000)
    expect((await mlpJson(home, ['verify'])).corrupt).toEqual([])
    expect(lstatSync(join(proj, 'big.bin.mlp')).isFile()).toBe(true)
  })
})
