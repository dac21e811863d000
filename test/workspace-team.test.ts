import { execFileSync } from 'node:child_process'
import { existsSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync, mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { MLP_BIN, mlp, mlpJson, tempDir } from './helpers/cli.js'
import { DaemonPool, type TestDaemon } from './helpers/daemons.js'
import { newProject, sha256, writeRandom } from './helpers/project.js'

// Two teammates (a shared swarm key, peers added) with one bare git remote:
// the everyday loop of git pull && mlp pull, old-revision checkouts, local
// edits, and pipeline outs carried by push --to.

const pool = new DaemonPool()
let a: TestDaemon
let b: TestDaemon

const GIT_ENV = { GIT_AUTHOR_NAME: 't', GIT_AUTHOR_EMAIL: 't@example.com', GIT_COMMITTER_NAME: 't', GIT_COMMITTER_EMAIL: 't@example.com' }

function git (cwd: string, args: string[], env: NodeJS.ProcessEnv = {}): string {
  return execFileSync('git', args, { cwd, encoding: 'utf8', env: { ...process.env, ...GIT_ENV, ...env }, stdio: ['ignore', 'pipe', 'pipe'] })
}

interface CheckoutOut { path: string, written: number, unchanged: number, removed: number, skipped: string[] }
interface Status { outs: Array<{ path: string, state: string, stage?: string }>, stages: unknown[] }

/** Every tracked output unchanged and every stage up to date. */
async function expectClean (d: TestDaemon, cwd: string): Promise<void> {
  const st = await mlpJson<Status>(d.home, ['status'], { cwd })
  expect(st.outs.length).toBeGreaterThan(0)
  expect(st.outs.filter((o) => o.state !== 'unchanged')).toEqual([])
  expect(st.stages).toEqual([])
}

beforeAll(async () => {
  a = await pool.start()
  b = await pool.start()
  await mlpJson(b.home, ['peers', 'add', a.addrs[0]])
  await mlpJson(a.home, ['peers', 'add', b.addrs[0]])
})
afterAll(async () => { await pool.cleanup() })

describe('two teammates with one git remote', () => {
  it('update, deletion, old revisions, local edits, pipeline outs, git hooks', async () => {
    const remote = await tempDir('mlp-remote-')
    git(remote, ['init', '-q', '--bare'])

    // A: a tracked directory, committed and pushed
    const projA = await newProject(a.home)
    const data = join(projA, 'data')
    mkdirSync(data)
    writeRandom(join(data, 'big.bin'), 300_000)
    for (let i = 1; i <= 8; i++) writeFileSync(join(data, `sample_${i}.txt`), `sample ${i}\n`)
    await mlpJson(a.home, ['add', 'data'], { cwd: projA })
    git(projA, ['add', '-A'])
    git(projA, ['commit', '-q', '-m', 'data v1'])
    git(projA, ['remote', 'add', 'origin', remote])
    git(projA, ['push', '-q', 'origin', 'HEAD:refs/heads/main'])
    const v1 = git(projA, ['rev-parse', 'HEAD']).trim()
    const bigV1 = sha256(join(data, 'big.bin'))

    // B: clone, pull
    const projB = join(await tempDir('mlp-b-'), 'proj')
    git(projA, ['clone', '-q', '-b', 'main', remote, projB])
    const first = await mlp(b.home, ['pull'], { cwd: projB })
    expect(first.code, first.stderr).toBe(0)
    expect(sha256(join(projB, 'data', 'big.bin'))).toBe(bigV1)
    await expectClean(b, projB)

    // A: one file changed, one deleted
    writeRandom(join(data, 'big.bin'), 300_000)
    rmSync(join(data, 'sample_7.txt'))
    await mlpJson(a.home, ['add', 'data'], { cwd: projA })
    git(projA, ['commit', '-q', '-am', 'data v2'])
    git(projA, ['push', '-q', 'origin', 'HEAD:refs/heads/main'])
    const bigV2 = sha256(join(data, 'big.bin'))
    expect(bigV2).not.toBe(bigV1)

    // B: git pull && mlp pull gets the update and the deletion, no --force needed
    git(projB, ['pull', '-q'])
    const second = await mlp(b.home, ['pull', '--json'], { cwd: projB })
    expect(second.code, second.stderr).toBe(0)
    const pulled = JSON.parse(second.stdout) as { checkout: CheckoutOut[] }
    expect(pulled.checkout).toMatchObject([{ path: 'data', written: 1, removed: 1, skipped: [] }])
    expect(sha256(join(projB, 'data', 'big.bin'))).toBe(bigV2)
    expect(existsSync(join(projB, 'data', 'sample_7.txt'))).toBe(false)
    await expectClean(b, projB)

    // B: an old revision, then back
    git(projB, ['checkout', '-q', v1])
    const old = await mlp(b.home, ['checkout'], { cwd: projB })
    expect(old.code, old.stderr).toBe(0)
    expect(sha256(join(projB, 'data', 'big.bin'))).toBe(bigV1)
    expect(readFileSync(join(projB, 'data', 'sample_7.txt'), 'utf8')).toBe('sample 7\n')
    await expectClean(b, projB)
    git(projB, ['checkout', '-q', 'main'])
    expect((await mlp(b.home, ['checkout'], { cwd: projB })).code).toBe(0)
    expect(sha256(join(projB, 'data', 'big.bin'))).toBe(bigV2)
    expect(existsSync(join(projB, 'data', 'sample_7.txt'))).toBe(false)

    // B: a real local edit and a new file are kept, reported by path, exit non-zero naming --force
    writeFileSync(join(projB, 'data', 'big.bin'), 'my own edit\n')
    writeFileSync(join(projB, 'data', 'notes.txt'), 'mine\n')
    git(projB, ['checkout', '-q', v1])
    const kept = await mlp(b.home, ['checkout'], { cwd: projB })
    expect(kept.code).not.toBe(0)
    expect(kept.stderr.trim().split('\n')).toHaveLength(1)
    expect(kept.stderr).toContain('--force')
    expect(kept.stderr).toContain('data/big.bin')
    expect(kept.stderr).toContain('data/notes.txt')
    expect(kept.stdout).toContain('kept (local edit; --force to overwrite): data/big.bin')
    expect(readFileSync(join(projB, 'data', 'big.bin'), 'utf8')).toBe('my own edit\n')
    expect(readFileSync(join(projB, 'data', 'notes.txt'), 'utf8')).toBe('mine\n')
    // what the store knows was still brought to the old revision
    expect(readFileSync(join(projB, 'data', 'sample_7.txt'), 'utf8')).toBe('sample 7\n')
    const keptJson = await mlp(b.home, ['checkout', '--json'], { cwd: projB })
    expect(keptJson.code).not.toBe(0)
    const doc = JSON.parse(keptJson.stdout) as { checkout: CheckoutOut[], error: { name: string } }
    expect(doc.error.name).toBe('LocalEditsError')
    expect(doc.checkout[0].skipped.sort()).toEqual(['data/big.bin', 'data/notes.txt'])
    // positive control: --force overwrites
    const forced = await mlp(b.home, ['checkout', '--force'], { cwd: projB })
    expect(forced.code, forced.stderr).toBe(0)
    expect(sha256(join(projB, 'data', 'big.bin'))).toBe(bigV1)
    expect(existsSync(join(projB, 'data', 'notes.txt'))).toBe(false)
    git(projB, ['checkout', '-q', 'main'])
    expect((await mlp(b.home, ['checkout'], { cwd: projB })).code).toBe(0)
    await expectClean(b, projB)

    // A: a stage, reproduced, committed, its out pushed --to B; then A goes away
    writeFileSync(join(projA, 'mlp.yaml'), `stages:
  train:
    cmd: node -e "require('fs').writeFileSync('model.pt', require('crypto').randomBytes(60000))"
    deps: [data]
    outs: [model.pt]
`)
    const ran = await mlp(a.home, ['repro'], { cwd: projA })
    expect(ran.code, ran.stderr).toBe(0)
    const model = sha256(join(projA, 'model.pt'))
    git(projA, ['add', '-A'])
    git(projA, ['commit', '-q', '-m', 'pipeline'])
    git(projA, ['push', '-q', 'origin', 'HEAD:refs/heads/main'])
    const lockCid = /path: model\.pt\n\s+cid: (\S+)/.exec(readFileSync(join(projA, 'mlp.lock'), 'utf8'))?.[1]
    expect(lockCid).toBeDefined()
    const pushed = await mlpJson<{ roots: string[], replicated: boolean }>(a.home, ['push', '--to', b.peerId], { cwd: projA })
    expect(pushed.replicated).toBe(true)
    expect(pushed.roots).toContain(lockCid)
    expect((await mlp(a.home, ['daemon', 'stop'])).code).toBe(0)

    git(projB, ['pull', '-q'])
    const third = await mlp(b.home, ['pull'], { cwd: projB })
    expect(third.code, third.stderr).toBe(0)
    expect(sha256(join(projB, 'model.pt'))).toBe(model)
    await expectClean(b, projB)
    const st = await mlpJson<Status>(b.home, ['status'], { cwd: projB })
    expect(st.outs.find((o) => o.path === 'model.pt')).toMatchObject({ stage: 'train', state: 'unchanged' })

    // a deleted pipeline out comes back with checkout, by path or by stage name
    rmSync(join(projB, 'model.pt'))
    expect((await mlpJson<Status>(b.home, ['status'], { cwd: projB })).outs.find((o) => o.path === 'model.pt')?.state).toBe('missing')
    const restored = await mlp(b.home, ['checkout'], { cwd: projB })
    expect(restored.code, restored.stderr).toBe(0)
    expect(sha256(join(projB, 'model.pt'))).toBe(model)
    rmSync(join(projB, 'model.pt'))
    const [byStage] = await mlpJson<CheckoutOut[]>(b.home, ['checkout', 'train'], { cwd: projB })
    expect(byStage).toMatchObject({ path: 'model.pt', written: 1 })
    expect(sha256(join(projB, 'model.pt'))).toBe(model)
    const unknown = await mlp(b.home, ['checkout', 'no-such-stage'], { cwd: projB })
    expect(unknown.code).not.toBe(0)
    expect(unknown.stderr).toContain('no-such-stage is not tracked')

    // mlp install: hooks make `git checkout` run `mlp checkout`
    const hooks = await mlpJson<Array<{ name: string, state: string }>>(b.home, ['install'], { cwd: projB })
    expect(hooks.map((h) => [h.name, h.state]).sort()).toEqual([['post-checkout', 'installed'], ['post-merge', 'installed'], ['pre-push', 'installed']])
    const again = await mlpJson<Array<{ state: string }>>(b.home, ['install'], { cwd: projB })
    expect(again.map((h) => h.state)).toEqual(['unchanged', 'unchanged', 'unchanged'])
    expect(statSync(join(projB, '.git', 'hooks', 'post-checkout')).mode & 0o111).not.toBe(0)
    // the hooks call `mlp` from PATH, as a user's installed CLI
    const bin = await tempDir('mlp-bin-')
    writeFileSync(join(bin, 'mlp'), `#!/bin/sh\nexec "${process.execPath}" "${MLP_BIN}" "$@"\n`, { mode: 0o755 })
    const hookEnv = { PATH: `${bin}:${process.env.PATH ?? ''}`, MLP_HOME: b.home, NODE_ENV: undefined }
    git(projB, ['checkout', '-q', v1], hookEnv)
    expect(sha256(join(projB, 'data', 'big.bin'))).toBe(bigV1)
    expect(existsSync(join(projB, 'data', 'sample_7.txt'))).toBe(true)
    git(projB, ['checkout', '-q', 'main'], hookEnv)
    expect(sha256(join(projB, 'data', 'big.bin'))).toBe(bigV2)
    expect(existsSync(join(projB, 'data', 'sample_7.txt'))).toBe(false)
  }, 240_000)

  it('mlp install refuses a foreign hook without --force, changing nothing', async () => {
    const proj = await newProject(b.home)
    const hooksDir = join(proj, '.git', 'hooks')
    writeFileSync(join(hooksDir, 'pre-push'), '#!/bin/sh\necho mine\n', { mode: 0o755 })
    const before = readdirSync(hooksDir).sort()
    const refused = await mlp(b.home, ['install'], { cwd: proj })
    expect(refused.code).not.toBe(0)
    expect(refused.stderr.trim().split('\n')).toHaveLength(1)
    expect(refused.stderr).toContain('pre-push')
    expect(refused.stderr).toContain('--force')
    expect(readdirSync(hooksDir).sort()).toEqual(before)
    // positive control: --force installs and keeps the old hook aside
    const forced = await mlpJson<Array<{ name: string, state: string, backup?: string }>>(b.home, ['install', '--force'], { cwd: proj })
    expect(forced.find((h) => h.name === 'pre-push')).toMatchObject({ state: 'replaced', backup: join(hooksDir, 'pre-push.pre-mlp') })
    expect(readFileSync(join(hooksDir, 'pre-push.pre-mlp'), 'utf8')).toBe('#!/bin/sh\necho mine\n')
    expect(readFileSync(join(hooksDir, 'pre-push'), 'utf8')).toContain('exec mlp push')
  })
})
