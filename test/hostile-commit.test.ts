import { existsSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { alive, mlp, mlpJson, tempDir } from './helpers/cli.js'
import { DaemonPool, type TestDaemon } from './helpers/daemons.js'
import { newProject } from './helpers/project.js'

// What one pushed commit can make a teammate's daemon do when they run
// `mlp dag`, `mlp status` or `mlp repro` on it: each attack ends in a one-line
// error, the daemon keeps answering, and the legitimate form beside it works.
const pool = new DaemonPool()
let alice: TestDaemon
let bob: TestDaemon

/** `${name}` as a pipeline file writes it. */
function ref (name: string): string {
  return '$' + `{${name}}`
}

/** Resident memory of a process, in KiB. */
function rssKib (pid: number): number {
  return Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1])
}

async function answers (d: TestDaemon): Promise<void> {
  expect(alive(d.pid)).toBe(true)
  expect((await mlpJson(d.home, ['id'])).peerId).toBe(d.peerId)
}

/** The one-line error a failed command printed. */
function oneLineError (r: { code: number, stderr: string }): string {
  expect(r.code).not.toBe(0)
  const lines = r.stderr.trim().split('\n')
  expect(lines, r.stderr).toHaveLength(1)
  return lines[0]
}

beforeAll(async () => {
  alice = await pool.start()
  bob = await pool.start()
  await mlpJson(alice.home, ['peers', 'add', bob.addrs[0]])
  expect((await mlp(bob.home, ['trust', 'add', alice.peerId, '--run'])).code).toBe(0)
  expect((await mlp(alice.home, ['trust', 'add', bob.peerId, '--results'])).code).toBe(0)
})
afterAll(async () => { await pool.cleanup() })

describe('an interpolation bomb (1 MiB param repeated 300 times in a 100-item foreach)', () => {
  it('dag and status fail in one line naming the file, line and stage; the daemon answers', async () => {
    const proj = await newProject(alice.home)
    writeFileSync(join(proj, 'params.yaml'), `a: ${'x'.repeat(1 << 20)}\n`)
    const items = Array.from({ length: 100 }, (_, i) => `      - i${i}\n`).join('')
    writeFileSync(join(proj, 'mlp.yaml'), `stages:\n  s:\n    foreach:\n${items}    do:\n      cmd: "${ref('item')}${ref('a').repeat(300)}"\n      outs: ["o${ref('item')}"]\n`)
    for (const cmd of ['dag', 'status']) {
      expect(oneLineError(await mlp(alice.home, [cmd], { cwd: proj }))).toContain(`mlp.yaml:2: stage 's@i0': a string using '${ref('a')}' interpolates to 300.0 MiB; mlp allows at most 1.0 MiB per value`)
    }
    await answers(alice)
  })

  it('normal params interpolation works (positive control)', async () => {
    const proj = await newProject(alice.home)
    writeFileSync(join(proj, 'params.yaml'), `train:\n  lr: 0.1\nname: ${'n'.repeat(1000)}\n`)
    writeFileSync(join(proj, 'mlp.yaml'), `stages:\n  s:\n    foreach: [a, b]\n    do:\n      cmd: echo ${ref('train.lr')} ${ref('item')} ${ref('name')}\n      outs: ["o-${ref('item')}"]\n`)
    const dag = await mlpJson(alice.home, ['dag'], { cwd: proj })
    expect(dag.stages.map((s: { cmd: string }) => s.cmd)).toEqual([`echo 0.1 a ${'n'.repeat(1000)}`, `echo 0.1 b ${'n'.repeat(1000)}`])
  })
})

describe('pipeline files that are symlinks out of the project', () => {
  it('params.yaml -> /proc/self/pagemap: status fails in one line at once; the daemon answers and does not grow', async () => {
    const proj = await newProject(alice.home)
    writeFileSync(join(proj, 'mlp.yaml'), 'stages:\n  train:\n    cmd: echo hi > out.txt\n    params: [lr]\n    outs: [out.txt]\n')
    symlinkSync('/proc/self/pagemap', join(proj, 'params.yaml'))
    const rss = rssKib(alice.pid)
    const started = Date.now()
    expect(oneLineError(await mlp(alice.home, ['status'], { cwd: proj }))).toMatch(/"params\.yaml" leads outside the project \(to "\/proc\/\d+\/pagemap"\) through a symlink: refused/)
    expect(Date.now() - started).toBeLessThan(15_000)
    await answers(alice)
    expect(rssKib(alice.pid) - rss).toBeLessThan(100 * 1024)
  })

  it.each(['mlp.yaml', 'mlp.lock'])('%s -> /proc/self/pagemap is refused in one line too', async (name) => {
    const proj = await newProject(alice.home)
    if (name !== 'mlp.yaml') writeFileSync(join(proj, 'mlp.yaml'), 'stages:\n  a:\n    cmd: echo\n')
    symlinkSync('/proc/self/pagemap', join(proj, name))
    // a pipeline file must be a regular file at all; a lock is read only inside the project
    const why = name === 'mlp.yaml' ? 'mlp.yaml is a symlink; mlp reads only a regular file as a pipeline file' : `"${name}" leads outside the project`
    expect(oneLineError(await mlp(alice.home, ['status'], { cwd: proj }))).toContain(why)
    await answers(alice)
  })

  it('a normal params.yaml loads (positive control)', async () => {
    const proj = await newProject(alice.home)
    writeFileSync(join(proj, 'mlp.yaml'), 'stages:\n  train:\n    cmd: echo hi > out.txt\n    params: [lr]\n    outs: [out.txt]\n')
    writeFileSync(join(proj, 'params.yaml'), 'lr: 0.1\n')
    const r = await mlp(alice.home, ['status'], { cwd: proj })
    expect(r.code, r.stderr).toBe(0)
    expect(r.stdout).toContain('train')
  })
})

describe('deps through a committed symlink out of the project', () => {
  it('a run_on stage whose dep is secrets/id_ed25519 (secrets -> a private dir) is refused before anything is sent', async () => {
    const outside = await tempDir('mlp-private-')
    writeFileSync(join(outside, 'id_ed25519'), 'ALICE-PRIVATE-KEY\n')
    const proj = await newProject(alice.home)
    symlinkSync(outside, join(proj, 'secrets'))
    writeFileSync(join(proj, 'mlp.yaml'), `stages:\n  train:\n    cmd: cat secrets/id_ed25519 > model.txt\n    deps: [secrets/id_ed25519]\n    outs: [model.txt]\n    run_on: ${bob.peerId}\n`)
    const jobsBefore = (await mlpJson<unknown[]>(bob.home, ['jobs'])).length
    for (const cmd of ['repro', 'status']) {
      expect(oneLineError(await mlp(alice.home, [cmd], { cwd: proj }))).toMatch(/stage 'train': dep "secrets\/id_ed25519" leads outside the project \(to ".*\/id_ed25519"\) through a symlink: refused/)
    }
    expect(existsSync(join(proj, 'model.txt'))).toBe(false)
    expect(await mlpJson<unknown[]>(bob.home, ['jobs'])).toHaveLength(jobsBefore)
    await answers(alice)
    await answers(bob)
  })

  it('a params file or an out through such a symlink is refused too', async () => {
    const outside = await tempDir('mlp-private-')
    writeFileSync(join(outside, 'conf.yaml'), 'token: hunter2\n')
    const proj = await newProject(alice.home)
    symlinkSync(outside, join(proj, 'secrets'))
    writeFileSync(join(proj, 'mlp.yaml'), 'stages:\n  a:\n    cmd: echo\n    params:\n      - secrets/conf.yaml:\n          - token\n')
    expect(oneLineError(await mlp(alice.home, ['status'], { cwd: proj }))).toContain('"secrets/conf.yaml" leads outside the project')
    writeFileSync(join(proj, 'mlp.yaml'), 'stages:\n  a:\n    cmd: echo\n    outs: [secrets/new.txt]\n')
    expect(oneLineError(await mlp(alice.home, ['status'], { cwd: proj }))).toContain('"secrets/new.txt" leads outside the project')
    writeFileSync(join(proj, 'mlp.yaml'), 'stages:\n  a:\n    cmd: echo\n    params:\n      - ../../x.yaml:\n          - k\n')
    expect(oneLineError(await mlp(alice.home, ['status'], { cwd: proj }))).toContain("params file '../../x.yaml' must stay inside the project")
    await answers(alice)
  })

  it('a symlinked data dir inside the project works as a dep of a run_on stage (positive control)', async () => {
    const proj = await newProject(alice.home)
    mkdirSync(join(proj, 'storage', 'data'), { recursive: true })
    writeFileSync(join(proj, 'storage', 'data', 'in.txt'), 'input\n')
    symlinkSync('storage/data', join(proj, 'data'))
    writeFileSync(join(proj, 'mlp.yaml'), `stages:\n  probe:\n    cmd: cat data/in.txt > out.txt\n    deps: [data/in.txt]\n    outs: [out.txt]\n    run_on: ${bob.peerId}\n`)
    const r = await mlp(alice.home, ['repro'], { cwd: proj })
    expect(r.code, r.stderr).toBe(0)
    expect(r.stdout).toContain(`ran on ${bob.peerId}`)
    expect(readFileSync(join(proj, 'out.txt'), 'utf8')).toBe('input\n')
    expect(readFileSync(join(proj, 'mlp.lock'), 'utf8')).toContain('path: data/in.txt')
  })
})
