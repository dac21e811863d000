import { spawn } from 'node:child_process'
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { GPU_ENV, sleepers, sleepToken, startTrustedPair } from './helpers/exec.js'
import { MLP_BIN, alive, mlp, mlpJson, waitFor } from './helpers/cli.js'
import { DaemonPool, type TestDaemon } from './helpers/daemons.js'
import { newProject } from './helpers/project.js'

interface Job { id: string, stage: string, role: string, peer: string, state: string }

const pool = new DaemonPool()
let alice: TestDaemon
let gpu: TestDaemon
beforeAll(async () => {
  ({ alice, gpu } = await startTrustedPair(pool, GPU_ENV))
})
afterAll(async () => { await pool.cleanup() })

function gpuStage (name: string, cmd: string): string {
  return `  ${name}:\n    cmd: ${cmd}\n    deps: [in.txt]\n    outs: [${name}.txt]\n    resources:\n      gpu: 1\n`
}

async function project (home: string, stage: string): Promise<string> {
  const proj = await newProject(home)
  writeFileSync(join(proj, 'in.txt'), `input ${Math.random()}\n`)
  writeFileSync(join(proj, 'mlp.yaml'), `stages:\n${stage}`)
  return proj
}

/** `mlp repro` as a child, sent SIGINT (the user's Ctrl-C) once the remote job runs; its exit code and stderr. */
async function interruptedRepro (home: string, proj: string, token: string): Promise<{ code: number | null, stderr: string }> {
  const child = spawn(process.execPath, [MLP_BIN, 'repro'], { cwd: proj, env: { ...process.env, MLP_HOME: home, NODE_ENV: '', NO_COLOR: '1' }, stdio: ['ignore', 'ignore', 'pipe'] })
  let stderr = ''
  child.stderr.on('data', (d: Buffer) => { stderr += d.toString() })
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve))
  const guard = setTimeout(() => { child.kill('SIGKILL') }, 60_000)
  try {
    await waitFor('the remote job to start', () => sleepers(token).length > 0, 30_000)
    child.kill('SIGINT')
    return { code: await exited, stderr }
  } finally {
    clearTimeout(guard)
  }
}

async function jobState (home: string, id: string): Promise<string | undefined> {
  return (await mlpJson<Job[]>(home, ['jobs'])).find((j) => j.id === id)?.state
}

describe('Ctrl-C on a remote stage', () => {
  it('names the peer and the cancel command, and the requester\'s job list follows the executor to its end', async () => {
    // short enough to end within the test, long enough to be interrupted first
    const token = sleepToken(6)
    const proj = await project(alice.home, gpuStage('train', `sleep ${token} && echo trained > train.txt`))
    const r = await interruptedRepro(alice.home, proj, token)
    expect(r.code).not.toBe(0)
    expect(r.stderr).toContain(`continues on ${gpu.peerId}`)
    const id = /mlp cancel ([0-9a-f-]+)/.exec(r.stderr)?.[1] as string
    expect(id).toBeDefined()
    // the requester keeps following the job: it ends as the executor's does, not `running` forever
    await waitFor('the executor to finish the job', async () => await jobState(gpu.home, id) === 'done', 30_000)
    await waitFor('the requester to see the job done', async () => await jobState(alice.home, id) === 'done', 15_000)
    // and the run it missed is restored from the executor's run cache
    const again = await mlp(alice.home, ['repro'], { cwd: proj })
    expect(again.code).toBe(0)
    expect(again.stdout).toContain(`restored train from ${gpu.peerId}`)
    expect(readFileSync(join(proj, 'train.txt'), 'utf8')).toBe('trained\n')
  })

  it('the printed `mlp cancel` command stops the job on the executor', async () => {
    const token = sleepToken(119)
    const proj = await project(alice.home, gpuStage('long', `sleep ${token} && echo > long.txt`))
    const r = await interruptedRepro(alice.home, proj, token)
    const pid = sleepers(token)[0]
    const command = /stop it with: (mlp cancel [0-9a-f-]+)/.exec(r.stderr)?.[1] as string
    expect(command).toBeDefined()
    const id = command.split(' ')[2]
    // the job is still running there after the interrupt (positive control for the cancel)
    expect(await jobState(gpu.home, id)).toBe('running')
    expect(await jobState(alice.home, id)).toBe('running')
    const cancelled = await mlpJson<Job>(alice.home, command.split(' ').slice(1))
    expect(cancelled.state).toBe('cancelled')
    await waitFor('the remote process to be gone', () => pid == null || !alive(pid), 15_000)
    await waitFor('the executor to record the cancel', async () => await jobState(gpu.home, id) === 'cancelled', 15_000)
  })
})

describe('simulated GPUs (executor.simulatedGpus)', () => {
  let bob: TestDaemon
  let sim: TestDaemon
  beforeAll(async () => {
    const home = await pool.home()
    writeFileSync(join(home, 'config.yaml'), 'executor: {simulatedGpus: 1}\n')
    sim = await pool.start(home)
    bob = await pool.start()
    await mlpJson(bob.home, ['peers', 'add', sim.addrs[0]])
    await mlpJson(sim.home, ['trust', 'add', bob.peerId, '--run'])
    await mlpJson(bob.home, ['trust', 'add', sim.peerId, '--results'])
  })

  it('mlp peers shows the GPU as simulated', async () => {
    const peers = await mlpJson<Array<{ peerId: string, resources?: { gpus: Array<{ simulated?: boolean }> } }>>(bob.home, ['peers'])
    expect(peers.find((p) => p.peerId === sim.peerId)?.resources?.gpus).toEqual([expect.objectContaining({ simulated: true })])
    const human = await mlp(bob.home, ['peers'])
    expect(human.stdout).toContain('SIMULATED GPU')
  })

  it('a GPU stage is refused without the opt-in (dry run too) and runs on the simulated peer with it', async () => {
    const proj = await project(bob.home, gpuStage('train', 'echo "ran on $MLP_EXECUTOR_PEER_ID" > train.txt'))
    const dry = await mlp(bob.home, ['repro', '--dry'], { cwd: proj })
    expect(dry.code).not.toBe(0)
    expect(dry.stdout).not.toContain('would run train')
    expect(dry.stderr).toContain('--simulated-gpus')
    const refused = await mlp(bob.home, ['repro'], { cwd: proj })
    expect(refused.code).not.toBe(0)
    expect(refused.stderr).toContain('mlp repro --simulated-gpus')
    expect(refused.stderr).toContain('mlp repro --local')
    expect(await mlpJson<Job[]>(sim.home, ['jobs'])).toEqual([])
    // positive control: with the opt-in, --dry and the run agree on the simulated peer
    const dryOk = await mlp(bob.home, ['repro', '--dry', '--simulated-gpus'], { cwd: proj })
    expect(dryOk.code).toBe(0)
    expect(dryOk.stdout).toContain('would run train (')
    expect(dryOk.stdout).toContain(`on ${sim.peerId}`)
    const ran = await mlp(bob.home, ['repro', '--simulated-gpus'], { cwd: proj })
    expect(ran.code).toBe(0)
    expect(ran.stdout).toContain(`train done (ran on ${sim.peerId})`)
    expect(readFileSync(join(proj, 'train.txt'), 'utf8')).toBe(`ran on ${sim.peerId}\n`)
  })
})
