import { existsSync, readdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { ExpRunResult } from '@mlp/proto'
import { alive, mlp, mlpJson, tempDir, waitFor } from './helpers/cli.js'
import { DaemonPool, type TestDaemon } from './helpers/daemons.js'
import { sleepers, sleepToken } from './helpers/exec.js'
import { connect, git, GIT_ENV, LISTEN, rows, writePipeline } from './helpers/exp.js'
import { newProject } from './helpers/project.js'

// A daemon killed during `mlp exp run` (or `--run-all`) must not leave its
// experiment `running` forever, here or on its teammates: when it starts
// again it re-signs its own `running` records as `failed` ("interrupted"),
// and the next exchange carries that to every teammate.

const pool = new DaemonPool()
let a: TestDaemon
let b: TestDaemon
const tokens: string[] = []

beforeAll(async () => {
  a = await pool.start(undefined, LISTEN, GIT_ENV, { team: false })
  b = await pool.start(undefined, LISTEN, GIT_ENV, { team: false })
  await connect(b, a)
  await mlpJson(a.home, ['team', 'add', b.peerId])
  await mlpJson(b.home, ['team', 'add', a.peerId])
})
afterAll(async () => {
  // the stages the killed daemon left running
  for (const t of tokens) for (const pid of sleepers(t)) process.kill(pid, 'SIGKILL')
  await pool.cleanup()
})

/** A committed project on `a` whose one stage first sleeps `${train.pause}` seconds (a string param, so the token's digits stay as typed). */
async function slowProject (): Promise<string> {
  const proj = await newProject(a.home)
  writePipeline(proj, `sleep ${'$'}{train.pause}`)
  writeFileSync(join(proj, 'params.yaml'), 'train:\n  lr: 0.1\n  pause: "0"\n')
  git(proj, ['add', '-A'])
  git(proj, ['commit', '-q', '-m', 'pipeline'])
  return proj
}

/** kill -9 of `a`'s daemon while `cli` (a command it serves) waits, then `a` started again on its home. */
async function killAndRestart (cli: Promise<unknown>, token: string): Promise<void> {
  process.kill(a.pid, 'SIGKILL')
  await waitFor('the killed daemon to exit', () => !alive(a.pid))
  await cli
  // its stage outlives it (its own process group): stopped here, as the machine's reboot would
  for (const pid of sleepers(token)) process.kill(pid, 'SIGKILL')
  a = await pool.start(a.home, LISTEN, GIT_ENV, { team: false })
}

describe('an experiment cut short by the daemon stopping', () => {
  it('exp run killed mid-stage: failed (interrupted) after restart, here and on the teammate; a finished run stays done', async () => {
    const proj = await slowProject()
    const projB = join(await tempDir('mlp-b-'), 'proj')
    git(proj, ['clone', '-q', proj, projB])

    // positive control: a run that finished before the kill
    const finished = await mlpJson<ExpRunResult>(a.home, ['exp', 'run', '-S', 'train.lr=0.3', '-n', 'finished'], { cwd: proj })
    expect(finished.record.state).toBe('done')

    const token = sleepToken(120)
    tokens.push(token)
    const cli = mlp(a.home, ['exp', 'run', '-S', `train.pause="${token}"`, '-n', 'cut-short'], { cwd: proj, timeoutMs: 150_000 })
    await waitFor('the slow stage to start', () => sleepers(token).length > 0, 60_000)
    expect((await rows(a, proj)).find((r) => r.name === 'cut-short')?.state).toBe('running')
    // the teammate holds the `running` version: the restart must replace it there too
    await waitFor('B to list cut-short as running', async () => (await rows(b, projB)).find((r) => r.name === 'cut-short')?.state === 'running')

    await killAndRestart(cli, token)
    const here = await rows(a, proj)
    expect(here.find((r) => r.name === 'cut-short')).toMatchObject({ state: 'failed', reason: expect.stringMatching(/^interrupted: the daemon stopped/) })
    expect(here.find((r) => r.name === 'finished')).toMatchObject({ state: 'done' })
    expect(here.find((r) => r.name === 'finished')?.reason).toBeUndefined()
    // the table says it too
    expect((await mlp(a.home, ['exp', 'show'], { cwd: proj })).stdout).toMatch(/cut-short\s.*failed/)

    // A listens on a new port now: connecting again exchanges the records
    await connect(a, b)
    await waitFor('B to list cut-short as failed', async () => (await rows(b, projB)).find((r) => r.name === 'cut-short')?.state === 'failed')
    const there = await rows(b, projB)
    expect(there.find((r) => r.name === 'cut-short')).toMatchObject({ by: a.peerId, state: 'failed', reason: expect.stringMatching(/^interrupted/) })
    expect(there.find((r) => r.name === 'finished')).toMatchObject({ by: a.peerId, state: 'done' })

    // the daemon works on: the next run (the workspace still holds the cut-short run's params, as in DVC) is done
    const again = await mlpJson<ExpRunResult>(a.home, ['exp', 'run', '-S', 'train.lr=0.4', '-S', 'train.pause="0"', '-n', 'after-restart'], { cwd: proj })
    expect(again.record.state).toBe('done')
  }, 240_000)

  it('--run-all killed mid-experiment: the running one failed, the queued ones stay queued and --run-all runs them', async () => {
    const proj = await slowProject()
    const token = sleepToken(120)
    tokens.push(token)
    await mlpJson(a.home, ['exp', 'run', '--queue', '-S', `train.pause="${token}"`, '-n', 'q-slow'], { cwd: proj })
    await mlpJson(a.home, ['exp', 'run', '--queue', '-S', 'train.lr=0.5', '-n', 'q-next'], { cwd: proj })
    const cli = mlp(a.home, ['exp', 'run', '--run-all', '-j', '1'], { cwd: proj, timeoutMs: 150_000 })
    await waitFor('the slow queued stage to start', () => sleepers(token).length > 0, 60_000)
    const runs = join(a.home, 'exp-runs')
    // the run's worktree, which the kill leaves behind
    expect(readdirSync(runs).length).toBeGreaterThan(0)

    await killAndRestart(cli, token)
    const listed = await rows(a, proj)
    expect(listed.find((r) => r.name === 'q-slow')).toMatchObject({ state: 'failed', reason: expect.stringMatching(/^interrupted/) })
    // never started: still queued, as a DVC queue keeps its tasks across restarts
    expect(listed.find((r) => r.name === 'q-next')?.state).toBe('queued')
    expect(existsSync(runs) ? readdirSync(runs) : []).toEqual([])
    // the user's workspace was never touched
    expect(git(proj, ['status', '--porcelain'])).toBe('')

    const rest = await mlpJson<ExpRunResult[]>(a.home, ['exp', 'run', '--run-all'], { cwd: proj })
    expect(rest.map((r) => [r.record.name, r.record.state])).toEqual([['q-next', 'done']])
    expect(rest[0].record.metrics).toContainEqual({ file: 'metrics.json', key: 'acc', value: 0.5 })
  }, 240_000)
})
