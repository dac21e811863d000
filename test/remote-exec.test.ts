import { readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { spawn } from 'node:child_process'
import { GPU_ENV, sleepers, sleepToken, startTrustedPair } from './helpers/exec.js'
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest'
import { MLP_BIN, alive, mlp, mlpJson, waitFor } from './helpers/cli.js'
import { DaemonPool, type TestDaemon } from './helpers/daemons.js'
import { newProject } from './helpers/project.js'

const pool = new DaemonPool()
let alice: TestDaemon
let gpu: TestDaemon
beforeAll(async () => {
  // both sides consent: alice may run stages on gpu, and alice believes gpu's results
  ({ alice, gpu } = await startTrustedPair(pool, GPU_ENV))
})
afterAll(async () => { await pool.cleanup() })

function gpuStage (name: string, cmd: string, extra = ''): string {
  return `  ${name}:\n    cmd: ${cmd}\n    deps: [in.txt]\n    outs: [${name}.txt]\n    resources:\n      gpu: 1\n${extra}`
}

async function project (stages: string[]): Promise<string> {
  const proj = await newProject(alice.home)
  writeFileSync(join(proj, 'in.txt'), 'input\n')
  writeFileSync(join(proj, 'mlp.yaml'), `stages:\n${stages.join('')}`)
  return proj
}

describe('resources', () => {
  it('the GPU daemon detects the GPU and peers see it', async () => {
    const peers = await mlpJson<Array<{ peerId: string, resources?: { gpus: Array<{ name: string, memoryTotalMib: number, memoryFreeMib: number, driverVersion: string, computeCap: string }>, cudaVersion?: string } }>>(alice.home, ['peers'])
    const res = peers.find((p) => p.peerId === gpu.peerId)?.resources
    expect(res?.gpus).toEqual([expect.objectContaining({ name: 'NVIDIA H200', memoryTotalMib: 143771, memoryFreeMib: 143156, driverVersion: '580.159.04', computeCap: '9.0' })])
    expect(res?.cudaVersion).toBe('13.0')
    const human = await mlp(alice.home, ['peers'])
    expect(human.stdout).toContain('NVIDIA H200 143156/143771 MiB free')
  })
})

describe('a GPU stage from a machine without a GPU', () => {
  it('runs on the GPU peer, streams its log, and comes back into the workspace and the lock', async () => {
    const proj = await project([gpuStage('train', 'echo "training on $MLP_EXECUTOR_PEER_ID" && echo "$MLP_EXECUTOR_PEER_ID gpus=$CUDA_VISIBLE_DEVICES $(cat in.txt)" > train.txt')])
    const r = await mlp(alice.home, ['repro'], { cwd: proj })
    expect(r.code).toBe(0)
    expect(r.stdout).toContain(`[train] training on ${gpu.peerId}`)
    expect(r.stdout).toContain(`train done (ran on ${gpu.peerId})`)
    expect(readFileSync(join(proj, 'train.txt'), 'utf8')).toBe(`${gpu.peerId} gpus=0 input\n`)
    expect(readFileSync(join(proj, 'mlp.lock'), 'utf8')).toContain(`ran_on: ${gpu.peerId}`)
    const jobs = await mlpJson<Array<{ id: string, role: string, state: string, peer: string }>>(gpu.home, ['jobs'])
    expect(jobs).toContainEqual(expect.objectContaining({ role: 'executor', state: 'done', peer: alice.peerId }))
    // the job's output stays readable on both machines
    const id = jobs.find((j) => j.peer === alice.peerId)?.id as string
    expect((await mlp(gpu.home, ['logs', id])).stdout).toContain(`training on ${gpu.peerId}`)
    expect((await mlp(alice.home, ['logs', id])).stdout).toContain(`training on ${gpu.peerId}`)
  })

  it('a requester without --run on the executor is refused, clearly', async () => {
    const stranger = await pool.start()
    await mlpJson(stranger.home, ['peers', 'add', gpu.addrs[0]])
    await mlpJson(stranger.home, ['trust', 'add', gpu.peerId, '--results'])
    const proj = await newProject(stranger.home)
    writeFileSync(join(proj, 'in.txt'), 'x\n')
    writeFileSync(join(proj, 'mlp.yaml'), `stages:\n${gpuStage('train', 'echo hi > train.txt')}`)
    const r = await mlp(stranger.home, ['repro'], { cwd: proj })
    expect(r.code).not.toBe(0)
    expect(r.stderr).toContain(`does not trust ${stranger.peerId}`)
    expect(r.stderr).toContain(`mlp trust add ${stranger.peerId} --run`)
    expect((await mlpJson<Array<{ peerId: string }>>(gpu.home, ['trust', 'ls'])).map((e) => e.peerId)).not.toContain(stranger.peerId)
  })

  it('more GPU memory than anyone has fails naming what was asked and what peers offer', async () => {
    const proj = await project([gpuStage('big', 'echo > big.txt', '      gpu_memory_mib: 999999\n')])
    const r = await mlp(alice.home, ['repro'], { cwd: proj })
    expect(r.code).not.toBe(0)
    expect(r.stderr).toContain('asking for gpu: 1, gpu_memory_mib: 999999')
    expect(r.stderr).toContain('NVIDIA H200')
  })

  it('an out that points outside the job directory fails the job', async () => {
    const proj = await project([gpuStage('escape', 'ln -s /etc/hostname escape.txt')])
    const r = await mlp(alice.home, ['repro'], { cwd: proj })
    expect(r.code).not.toBe(0)
    expect(r.stderr).toContain("out 'escape.txt' points outside the job directory")
  })

  it('two GPU stages on a one-GPU peer queue rather than share', async () => {
    // each sandboxed job records when it held the "GPU"; jobs that shared it would overlap
    const hold = (name: string): string => `s=$(date +%s%N) && sleep 1 && echo "$CUDA_VISIBLE_DEVICES $s $(date +%s%N)" > ${name}.txt`
    const proj = await project([gpuStage('one', hold('one')), gpuStage('two', hold('two'))])
    const r = await mlpJson<Array<{ stage: string, status: string }>>(alice.home, ['repro', '-j', '2'], { cwd: proj })
    expect(r.map((o) => o.status)).toEqual(['ran', 'ran'])
    const held = ['one', 'two'].map((n) => readFileSync(join(proj, `${n}.txt`), 'utf8').trim().split(' '))
    expect(held.map((h) => h[0])).toEqual(['0', '0'])
    const [a, b] = held.map((h) => [BigInt(h[1]), BigInt(h[2])])
    expect(a[1] <= b[0] || b[1] <= a[0]).toBe(true)
  })
})

describe('jobs under faults', () => {
  it('mlp cancel kills the remote process group', async () => {
    const token = sleepToken(119)
    const proj = await project([gpuStage('long', `sleep ${token} && echo > long.txt`)])
    const repro = mlp(alice.home, ['repro'], { cwd: proj })
    await waitFor('the remote job to start', () => sleepers(token).length > 0, 30_000)
    const pid = sleepers(token)[0]
    const jobs = await mlpJson<Array<{ id: string, stage: string, state: string, role: string }>>(alice.home, ['jobs'])
    const job = jobs.find((j) => j.stage === 'long' && j.state === 'running')
    expect(job?.role).toBe('requester')
    const cancelled = await mlpJson(alice.home, ['cancel', job?.id as string])
    expect(cancelled.state).toBe('cancelled')
    await waitFor('the remote process to be gone', () => !alive(pid), 15_000)
    expect((await repro).code).not.toBe(0)
  })

  it('an executor killed mid-job fails the repro with a clear message', async () => {
    const g2 = await pool.start(undefined, undefined, GPU_ENV)
    const a2 = await pool.start()
    await mlpJson(a2.home, ['peers', 'add', g2.addrs[0]])
    await mlpJson(g2.home, ['trust', 'add', a2.peerId, '--run'])
    await mlpJson(a2.home, ['trust', 'add', g2.peerId, '--results'])
    const token = sleepToken(119)
    const proj = await newProject(a2.home)
    writeFileSync(join(proj, 'in.txt'), 'x\n')
    writeFileSync(join(proj, 'mlp.yaml'), `stages:\n${gpuStage('long', `sleep ${token}`)}`)
    const repro = mlp(a2.home, ['repro'], { cwd: proj })
    await waitFor('the remote job to start', () => sleepers(token).length > 0, 30_000)
    process.kill(g2.pid, 'SIGKILL')
    const r = await repro
    expect(r.code).not.toBe(0)
    expect(r.stderr).toContain(`executor ${g2.peerId} went away`)
  })

  it('a requester stopped mid-job finds the result in the executor run cache later', async () => {
    const a3 = await pool.start()
    await mlpJson(a3.home, ['peers', 'add', gpu.addrs[0]])
    await mlpJson(gpu.home, ['trust', 'add', a3.peerId, '--run'])
    await mlpJson(a3.home, ['trust', 'add', gpu.peerId, '--results'])
    // the job waits for a gate the test opens only once the requester is gone, so it cannot finish
    // while the requester still listens, however slow the machine; the gate is outside /tmp, which
    // the sandbox hides from the job
    const token = sleepToken(1)
    const gate = `/var/tmp/mlp-gate-${token}`
    const proj = await newProject(a3.home)
    writeFileSync(join(proj, 'in.txt'), 'x\n')
    writeFileSync(join(proj, 'mlp.yaml'), `stages:\n${gpuStage('slow', `while [ ! -e ${gate} ]; do sleep ${token}; done; echo "$MLP_EXECUTOR_PEER_ID" > slow.txt`)}`)
    const child = spawn(process.execPath, [MLP_BIN, 'repro'], { cwd: proj, env: { ...process.env, MLP_HOME: a3.home, NODE_ENV: '' }, stdio: 'ignore' })
    const exited = new Promise((resolve) => child.once('exit', resolve))
    onTestFinished(() => { rmSync(gate, { force: true }) })
    await waitFor('the remote job to start', () => sleepers(token).length > 0, 30_000)
    await mlpJson(a3.home, ['daemon', 'stop'])
    await exited
    writeFileSync(gate, '')
    await waitFor('the executor to finish the job', async () => (await mlpJson<Array<{ stage: string, state: string }>>(gpu.home, ['jobs'])).some((j) => j.stage === 'slow' && j.state === 'done'), 30_000)
    const a3b = await pool.start(a3.home)
    await waitFor('the requester to reconnect', async () => (await mlpJson<Array<{ peerId: string, state: string }>>(a3b.home, ['peers'])).some((p) => p.peerId === gpu.peerId && p.state === 'connected'), 20_000)
    const r = await mlp(a3b.home, ['repro'], { cwd: proj })
    expect(r.code).toBe(0)
    expect(r.stdout).toContain(`restored slow from ${gpu.peerId}`)
    expect(readFileSync(join(proj, 'slow.txt'), 'utf8')).toBe(`${gpu.peerId}\n`)
  })
})
