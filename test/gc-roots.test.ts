import { execFileSync } from 'node:child_process'
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { mlp, mlpJson, tempDir } from './helpers/cli.js'
import { DaemonPool, type TestDaemon } from './helpers/daemons.js'
import { catSha256, newProject, sha256, writeRandom } from './helpers/project.js'

// gc must never lose what a project still references: stage outs in mlp.lock,
// other projects', other branches', a moved project's, or what an add or a
// repro is writing while gc runs. Positive controls show gc does remove
// garbage, so "kept" is not "gc did nothing".
const pool = new DaemonPool()
let d: TestDaemon

beforeAll(async () => { d = await pool.start() })
afterAll(async () => { await pool.cleanup() })

function git (cwd: string, ...args: string[]): string {
  return execFileSync('git', ['-c', 'user.email=t@example.com', '-c', 'user.name=t', '-c', 'init.defaultBranch=main', ...args], { cwd, encoding: 'utf8' })
}

/** A project whose one stage writes `out.bin` (random bytes) from `in.txt`. */
async function pipelineProject (): Promise<string> {
  const proj = await newProject(d.home)
  writeFileSync(join(proj, 'in.txt'), 'v1\n')
  writeFileSync(join(proj, 'mlp.yaml'), 'stages:\n  gen:\n    cmd: cat in.txt > out.bin && head -c 20000 /dev/urandom >> out.bin\n    deps: [in.txt]\n    outs: [out.bin]\n')
  return proj
}

function lockCid (proj: string): string {
  const m = /cid: (\S+)/.exec(readFileSync(join(proj, 'mlp.lock'), 'utf8').split('outs:')[1])
  if (m == null) throw new Error('no out in mlp.lock')
  return m[1]
}

async function gc (args: string[] = [], cwd?: string): Promise<any> {
  return await mlpJson(d.home, ['gc', ...args], { cwd })
}

async function inStore (cid: string): Promise<boolean> {
  return (await mlp(d.home, ['cat', cid])).code === 0
}

describe('gc keeps every tracked output', () => {
  it('repro, then gc: the stage out stays in the store and checkout restores it', async () => {
    const proj = await pipelineProject()
    await mlpJson(d.home, ['repro'], { cwd: proj })
    const cid = lockCid(proj)
    const want = sha256(join(proj, 'out.bin'))
    await gc([], proj)
    expect(await catSha256(d.home, cid)).toBe(want)
    const status = await mlpJson(d.home, ['status'], { cwd: proj })
    expect(JSON.stringify(status)).not.toContain('not in store')
    rmSync(join(proj, 'out.bin'))
    await mlpJson(d.home, ['checkout'], { cwd: proj })
    expect(sha256(join(proj, 'out.bin'))).toBe(want)
  })

  it('gc in project X keeps project Y\'s pointer and pipeline outs', async () => {
    const y = await pipelineProject()
    writeRandom(join(y, 'data.bin'), 30_000)
    const [added] = await mlpJson(d.home, ['add', 'data.bin'], { cwd: y })
    await mlpJson(d.home, ['repro'], { cwd: y })
    const x = await newProject(d.home)
    const r = await gc([], x)
    expect(r.projects).toBeGreaterThanOrEqual(2)
    expect(await catSha256(d.home, added.cid)).toBe(sha256(join(y, 'data.bin')))
    expect(await catSha256(d.home, lockCid(y))).toBe(sha256(join(y, 'out.bin')))
  })

  it('keeps a branch\'s outs after switching back; --workspace removes them', async () => {
    const proj = await newProject(d.home)
    writeFileSync(join(proj, 'README'), 'x\n')
    git(proj, 'add', 'README', '.mlp')
    git(proj, 'commit', '-qm', 'base')
    git(proj, 'checkout', '-qb', 'feature')
    writeRandom(join(proj, 'feat.bin'), 30_000)
    const [added] = await mlpJson(d.home, ['add', 'feat.bin'], { cwd: proj })
    git(proj, 'add', 'feat.bin.mlp', '.gitignore')
    git(proj, 'commit', '-qm', 'feature data')
    git(proj, 'checkout', '-q', '-')
    rmSync(join(proj, 'feat.bin'))
    expect(existsSync(join(proj, 'feat.bin.mlp'))).toBe(false)
    const dry = await gc(['--workspace', '--dry'], proj)
    expect(dry.wouldRemove).toContain(added.cid)
    await gc([], proj)
    expect(await inStore(added.cid)).toBe(true)
    const swept = await gc(['--workspace'], proj)
    expect(swept.removedBlocks).toBeGreaterThan(0)
    expect(await inStore(added.cid)).toBe(false)
  })

  it('a renamed project folder loses nothing; --forget then lets gc remove it', async () => {
    const parent = await tempDir('mlp-moved-')
    const old = join(parent, 'proj')
    mkdirSync(old)
    git(old, 'init', '-q')
    await mlpJson(d.home, ['init'], { cwd: old })
    writeRandom(join(old, 'keep.bin'), 30_000)
    const [added] = await mlpJson(d.home, ['add', 'keep.bin'], { cwd: old })
    await gc([], old) // records its roots while the folder is there
    renameSync(old, join(parent, 'moved'))
    const r = await gc([], parent)
    expect(r.missingProjects).toContain(old)
    expect(await inStore(added.cid)).toBe(true)
    // refused, changing nothing: a present project, and a path never registered
    const present = await newProject(d.home)
    const refused = await mlp(d.home, ['gc', '--forget', present], { cwd: parent })
    expect(refused.code).not.toBe(0)
    expect(refused.stderr).toMatch(/still there/)
    expect((await mlp(d.home, ['gc', '--forget', join(parent, 'nope')])).stderr).toMatch(/not a registered project/)
    expect(await inStore(added.cid)).toBe(true)
    const forgot = await gc(['--forget', old], parent)
    expect(forgot.forgotten).toEqual([old])
    expect(await inStore(added.cid)).toBe(false)
    expect((await gc([], parent)).missingProjects).not.toContain(old)
  })

  it('remove stops tracking and keeps the data; --dry lists it and changes nothing; gc then frees it', async () => {
    const proj = await newProject(d.home)
    writeFileSync(join(proj, '.gitignore'), '/other\n')
    const data = writeRandom(join(proj, 'gone.bin'), 30_000)
    const [added] = await mlpJson(d.home, ['add', 'gone.bin'], { cwd: proj })
    expect(readFileSync(join(proj, '.gitignore'), 'utf8')).toContain('/gone.bin')
    const removed = await mlpJson(d.home, ['remove', 'gone.bin'], { cwd: proj })
    expect(removed).toMatchObject([{ cid: added.cid }])
    expect(existsSync(join(proj, 'gone.bin.mlp'))).toBe(false)
    expect(readFileSync(join(proj, '.gitignore'), 'utf8')).toBe('/other\n')
    expect(readFileSync(join(proj, 'gone.bin')).equals(data)).toBe(true)
    const bad = await mlp(d.home, ['remove', 'gone.bin'], { cwd: proj })
    expect(bad.code).not.toBe(0)
    expect(bad.stderr).toMatch(/not tracked/)
    const dry = await gc(['--dry'], proj)
    expect(dry.dry).toBe(true)
    expect(dry.wouldRemove).toContain(added.cid)
    expect(dry.removedBytes).toBeGreaterThanOrEqual(30_000)
    expect(await inStore(added.cid)).toBe(true)
    const r = await gc([], proj)
    expect(r.removedBlocks).toBeGreaterThanOrEqual(dry.removedBlocks)
    expect(r.packBytesBefore - r.packBytesAfter).toBe(r.reclaimedBytes)
    expect(await inStore(added.cid)).toBe(false)
  })

  it('pins ls shows pins; pins rm drops one and gc may then remove its data', async () => {
    const proj = await newProject(d.home)
    writeRandom(join(proj, 'shared.bin'), 30_000)
    const [shared] = await mlpJson(d.home, ['share', 'shared.bin'], { cwd: proj })
    await mlpJson(d.home, ['remove', 'shared.bin'], { cwd: proj })
    await gc([], proj)
    expect(await inStore(shared.cid)).toBe(true)
    const pins = await mlpJson(d.home, ['pins', 'ls'])
    expect(pins).toContainEqual(expect.objectContaining({ cid: shared.cid, reason: 'shared' }))
    const notPinned = await mlp(d.home, ['pins', 'rm', 'bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy'])
    expect(notPinned.code).not.toBe(0)
    expect(notPinned.stderr).toMatch(/not pinned/)
    expect((await mlp(d.home, ['pins', 'rm', 'not-a-cid'])).code).not.toBe(0)
    expect(await mlpJson(d.home, ['pins', 'ls'])).toContainEqual(expect.objectContaining({ cid: shared.cid }))
    await mlpJson(d.home, ['pins', 'rm', shared.cid])
    expect(await mlpJson(d.home, ['pins', 'ls'])).not.toContainEqual(expect.objectContaining({ cid: shared.cid }))
    await gc([], proj)
    expect(await inStore(shared.cid)).toBe(false)
  })

  it('add refuses a file git tracks and a stage out, and adds an untracked file', async () => {
    const proj = await pipelineProject()
    writeFileSync(join(proj, 'params.yaml'), 'lr: 0.1\n')
    git(proj, 'add', 'params.yaml')
    const tracked = await mlp(d.home, ['add', 'params.yaml'], { cwd: proj })
    expect(tracked.code).not.toBe(0)
    expect(tracked.stderr).toMatch(/params\.yaml is tracked by git/)
    writeFileSync(join(proj, 'out.bin'), 'by hand\n')
    const out = await mlp(d.home, ['add', 'out.bin'], { cwd: proj })
    expect(out.code).not.toBe(0)
    expect(out.stderr).toMatch(/output of stage 'gen'/)
    expect(existsSync(join(proj, 'params.yaml.mlp')) || existsSync(join(proj, 'out.bin.mlp')) || existsSync(join(proj, '.gitignore'))).toBe(false)
    writeFileSync(join(proj, 'free.txt'), 'untracked\n')
    const [added] = await mlpJson(d.home, ['add', 'free.txt'], { cwd: proj })
    expect(existsSync(join(proj, 'free.txt.mlp'))).toBe(true)
    expect(await catSha256(d.home, added.cid)).toBe(sha256(join(proj, 'free.txt')))
  })

  it('gc looping beside adds and repros removes nothing they need', async () => {
    const ROUNDS = 3
    const proj = await pipelineProject()
    const state = { stop: false }
    let gcs = 0
    const loop = (async () => {
      for (let i = 0; i < 30 && !state.stop; i++) {
        const r = await mlp(d.home, ['gc', '--workspace'])
        if (r.code !== 0) throw new Error(`gc failed: ${r.stderr}`)
        gcs++
      }
    })()
    const files: string[] = []
    try {
      for (let round = 0; round < ROUNDS; round++) {
        const dir = join(proj, `batch${round}`)
        mkdirSync(dir)
        for (let i = 0; i < 2; i++) writeRandom(join(dir, `f${i}.bin`), 20_000 + round * 1000 + i)
        writeRandom(join(proj, `single${round}.bin`), 25_000)
        await mlpJson(d.home, ['add', `batch${round}`, `single${round}.bin`], { cwd: proj })
        files.push(...[0, 1].map((i) => `batch${round}/f${i}.bin`), `single${round}.bin`)
        writeFileSync(join(proj, 'in.txt'), `v${round + 2}\n`)
        await mlpJson(d.home, ['repro'], { cwd: proj })
      }
    } finally {
      state.stop = true
      await loop
    }
    expect(gcs).toBeGreaterThan(0)
    const v = await mlpJson(d.home, ['verify'])
    expect(v.corrupt).toEqual([])
    expect(v.missing).toEqual([])
    expect(await catSha256(d.home, lockCid(proj))).toBe(sha256(join(proj, 'out.bin')))
    expect(JSON.stringify(await mlpJson(d.home, ['status'], { cwd: proj }))).not.toContain('not in store')
    // every added file, byte-identical from the store: listed through its directory or read directly
    for (let round = 0; round < ROUNDS; round++) {
      const pointer = readFileSync(join(proj, `single${round}.bin.mlp`), 'utf8')
      const cid = (/cid: (\S+)/.exec(pointer) as RegExpExecArray)[1]
      expect(await catSha256(d.home, cid)).toBe(sha256(join(proj, `single${round}.bin`)))
      const dirCid = (/cid: (\S+)/.exec(readFileSync(join(proj, `batch${round}.mlp`), 'utf8')) as RegExpExecArray)[1]
      const entries = await mlpJson(d.home, ['ls', dirCid])
      for (const e of entries) expect(await catSha256(d.home, e.cid)).toBe(sha256(join(proj, `batch${round}`, e.name)))
    }
    expect(files.length).toBe(ROUNDS * 3)
  }, 240_000)
})
