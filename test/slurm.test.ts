import { execFileSync, spawn } from 'node:child_process'
import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { MLP_BIN, mlp, mlpJson, tempDir, waitFor, type RunResult } from './helpers/cli.js'
import { DaemonPool, type TestDaemon } from './helpers/daemons.js'
import { newProject } from './helpers/project.js'

// A GPU-less daemon (alice) sends stages to a login-node daemon whose executor
// is a real one-node Slurm cluster with one fake H200 (scripts/slurm-cluster.sh).
// No Slurm is a failure, not a skip: beforeAll starts the cluster and throws if it cannot.
// The TIMEOUT case is the slow one (slurmctld checks time limits every ~30 s, so a
// 1-minute limit ends after 60-90 s): it starts in beforeAll, on a CPU the other
// cases leave free, and the last case collects it.

const CLUSTER = fileURLToPath(new URL('../scripts/slurm-cluster.sh', import.meta.url))
const pool = new DaemonPool()
let alice: TestDaemon
let login: TestDaemon
let loginHome: string
let jobDir: string
let timeout: Promise<RunResult>

function sh (cmd: string, args: string[]): string {
  return execFileSync(cmd, args, { encoding: 'utf8', timeout: 30_000 })
}

/** Slurm job ids squeue lists as still pending or running (its default states). */
function queued (): string[] {
  return sh('squeue', ['--me', '-h', '-o', '%i']).split('\n').filter((l) => l.trim() !== '').map((l) => l.trim())
}

/** Names of every job Slurm still remembers (any state, until MinJobAge). */
function jobNames (): string[] {
  return sh('squeue', ['--me', '-h', '-t', 'all', '-o', '%j']).split('\n').map((l) => l.trim())
}

async function startLogin (): Promise<TestDaemon> {
  const d = await pool.start(loginHome)
  await mlpJson(alice.home, ['peers', 'add', d.addrs[0]])
  return d
}

beforeAll(async () => {
  // fails loudly when slurm-wlm or munge is missing: this test is the Slurm executor's only proof
  sh(CLUSTER, ['start'])
  jobDir = await tempDir('mlp-slurm-jobs-')
  alice = await pool.start()
  loginHome = await pool.home()
  writeFileSync(join(loginHome, 'config.yaml'), [
    'executor:',
    '  kind: slurm',
    '  partition: gpu',
    `  jobDir: ${jobDir}`,
    '  sbatchArgs: ["--time=10"]',
    '  gresTypes:',
    '    NVIDIA H200: {type: h200, memoryMib: 143771}',
    '  pollSeconds: 1',
    ''
  ].join('\n'))
  login = await startLogin()
  await mlpJson(login.home, ['trust', 'add', alice.peerId, '--run'])
  await mlpJson(alice.home, ['trust', 'add', login.peerId, '--results'])
  // no GPU: the one GPU stays free for the other cases; the node's second CPU is this one's
  const slow = await project(alice.home, `  slow:\n    cmd: sleep 600 && echo > slow.txt\n    outs: [slow.txt]\n    run_on: ${login.peerId}\n    resources:\n      time: 1\n`)
  timeout = reproInBackground(alice.home, slow)
  await slurmJobOf('slow')
}, 90_000)
afterAll(async () => { await pool.cleanup() })

async function project (home: string, stages: string): Promise<string> {
  const proj = await newProject(home)
  writeFileSync(join(proj, 'in.txt'), 'input\n')
  writeFileSync(join(proj, 'mlp.yaml'), `stages:\n${stages}`)
  return proj
}

function gpuStage (name: string, cmd: string, resources = ''): string {
  return `  ${name}:\n    cmd: ${JSON.stringify(cmd)}\n    deps: [in.txt]\n    outs: [${name}.txt]\n    resources:\n      gpu: 1\n${resources}`
}

/** `mlp repro` in the background, for a test that acts while it runs. */
function reproInBackground (home: string, cwd: string, args: string[] = []): Promise<RunResult> {
  const child = spawn(process.execPath, [MLP_BIN, 'repro', ...args], { cwd, env: { ...process.env, MLP_HOME: home, NODE_ENV: '', NO_COLOR: '1' }, stdio: ['ignore', 'pipe', 'pipe'] })
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (d: Buffer) => { stdout += d.toString() })
  child.stderr.on('data', (d: Buffer) => { stderr += d.toString() })
  return new Promise((resolve) => { child.once('close', (code) => { resolve({ code: code ?? 1, stdout, stderr }) }) })
}

/** The Slurm job id of the login daemon's job for `stage`, once Slurm has one. */
async function slurmJobOf (stage: string, state?: string): Promise<string> {
  let id: string | undefined
  await waitFor(`a Slurm job for stage ${stage}`, async () => {
    const jobs = await mlpJson<Array<{ stage: string, state: string, slurmJobId?: string }>>(login.home, ['jobs'])
    id = jobs.find((j) => j.stage === stage && j.slurmJobId != null && (state == null || j.state === state))?.slurmJobId
    return id != null
  }, 60_000)
  return id as string
}

describe('a login-node daemon fronting Slurm', () => {
  it('peers see it as a Slurm partition with its GPUs', async () => {
    const peers = await mlpJson<Array<{ peerId: string, resources?: { gpus: Array<{ name: string, memoryTotalMib: number }>, slurm?: { partition: string, gpusTotal: number } } }>>(alice.home, ['peers'])
    const r = peers.find((p) => p.peerId === login.peerId)?.resources
    expect(r?.slurm).toEqual(expect.objectContaining({ partition: 'gpu', gpusTotal: 1 }))
    expect(r?.gpus).toEqual([expect.objectContaining({ name: 'NVIDIA H200', memoryTotalMib: 143771 })])
    expect((await mlp(alice.home, ['peers'])).stdout).toContain('Slurm partition gpu: 1 GPU(s) NVIDIA H200')
  })

  it('runs a GPU stage from a GPU-less machine as a Slurm job: Slurm\'s GPU, live output, verified outs, the job id in mlp.lock', async () => {
    // the job runs under bubblewrap inside Slurm: the login daemon's identity key is out of its sight
    const key = join(loginHome, 'identity.key')
    expect(existsSync(key)).toBe(true)
    const proj = await project(alice.home, gpuStage('train', `echo streamed-from-slurm && if [ -e ${key} ]; then echo key-visible; fi && echo "job=$SLURM_JOB_ID cuda=$CUDA_VISIBLE_DEVICES peer=$MLP_EXECUTOR_PEER_ID $(cat in.txt)" > train.txt`, '      gpu_model: H200\n      cpus: 1\n      memory_mib: 100\n      time: "00:05:00"\n'))
    const r = await mlp(alice.home, ['repro'], { cwd: proj, timeoutMs: 120_000 })
    expect(r.code).toBe(0)
    expect(r.stdout).toContain('[train] streamed-from-slurm')
    expect(r.stdout).not.toContain('key-visible')
    expect(r.stdout).toContain(`train done (ran on ${login.peerId})`)
    const out = readFileSync(join(proj, 'train.txt'), 'utf8')
    const job = /^job=(\d+) cuda=0 peer=(\S+) input\n$/.exec(out)
    expect(job?.[2]).toBe(login.peerId)
    const id = job?.[1] as string
    // the job is Slurm's, with the stage's resources mapped to sbatch flags
    const shown = sh('scontrol', ['show', 'job', id])
    expect(shown).toContain('JobName=mlp-train')
    expect(shown).toContain('TresPerNode=gres:gpu:h200:1')
    expect(shown).toContain('TimeLimit=00:05:00')
    expect(shown).toMatch(/MinMemoryNode=100M/)
    const lock = readFileSync(join(proj, 'mlp.lock'), 'utf8')
    expect(lock).toContain(`peer: ${login.peerId}`)
    expect(lock).toContain(`slurm_job: "${id}"`)
    expect(lock).toContain('partition: gpu')
    // the outs came back through the verified path: in the store, and up to date
    expect((await mlp(alice.home, ['status'], { cwd: proj })).stdout).not.toContain('changed')
  }, 150_000)

  it('two GPU stages on one GPU: Slurm runs one, the other waits PENDING, then both succeed', async () => {
    const proj = await project(alice.home, gpuStage('first', 'sleep 4 && echo "$SLURM_JOB_ID" > first.txt') + gpuStage('second', 'sleep 4 && echo "$SLURM_JOB_ID" > second.txt'))
    const r = await mlp(alice.home, ['repro', '-j', '2'], { cwd: proj, timeoutMs: 120_000 })
    expect(r.code).toBe(0)
    expect(r.stderr).toMatch(/\[(first|second)\] Slurm job \d+ is queued \(PENDING, reason: (Resources|Priority)\)/)
    const a = Number(readFileSync(join(proj, 'first.txt'), 'utf8'))
    const b = Number(readFileSync(join(proj, 'second.txt'), 'utf8'))
    expect(a).not.toBe(b)
  }, 150_000)

  it('mlp cancel on the requester reaches scancel: the job leaves the queue', async () => {
    const proj = await project(alice.home, gpuStage('long', 'sleep 300 && echo > long.txt'))
    const running = reproInBackground(alice.home, proj)
    const id = await slurmJobOf('long', 'running')
    expect(queued()).toContain(id)
    const job = (await mlpJson<Array<{ id: string, stage: string, role: string, state: string }>>(alice.home, ['jobs'])).find((j) => j.stage === 'long' && j.state !== 'done' && j.state !== 'failed')
    expect((await mlp(alice.home, ['cancel', job?.id as string])).code).toBe(0)
    await waitFor('the job to leave the Slurm queue', () => !queued().includes(id), 30_000)
    const r = await running
    expect(r.code).not.toBe(0)
    expect(r.stderr).toContain('cancelled')
  }, 120_000)

  it('an untrusted requester is refused before anything reaches Slurm (and a trusted one is not)', async () => {
    const stranger = await pool.start()
    await mlpJson(stranger.home, ['peers', 'add', login.addrs[0]])
    await mlpJson(stranger.home, ['trust', 'add', login.peerId, '--results'])
    const refused = await project(stranger.home, `  probe_untrusted:\n    cmd: echo x > p.txt\n    outs: [p.txt]\n    run_on: ${login.peerId}\n`)
    const r = await mlp(stranger.home, ['repro'], { cwd: refused })
    expect(r.code).not.toBe(0)
    expect(r.stderr).toContain(`does not trust ${stranger.peerId}`)
    expect(jobNames()).not.toContain('mlp-probe_untrusted')
    // positive control: the same stage from alice, who holds --run there, becomes a Slurm job
    const allowed = await project(alice.home, `  probe_trusted:\n    cmd: echo x > p.txt\n    outs: [p.txt]\n    run_on: ${login.peerId}\n`)
    const ok = await mlp(alice.home, ['repro'], { cwd: allowed, timeoutMs: 120_000 })
    expect(ok.code).toBe(0)
    expect(jobNames()).toContain('mlp-probe_trusted')
  }, 150_000)

  it('a stage over its time limit fails with Slurm\'s TIMEOUT in its error', async () => {
    const r = await timeout
    expect(r.code).not.toBe(0)
    expect(r.stderr).toContain('TIMEOUT')
    expect(r.stderr).toContain('resources.time')
  }, 180_000)

  it('a login-node daemon restarted mid-job re-attaches to it and delivers its result', async () => {
    const proj = await project(alice.home, gpuStage('resume', 'sleep 10 && echo "job=$SLURM_JOB_ID" > resume.txt'))
    const first = reproInBackground(alice.home, proj)
    const id = await slurmJobOf('resume', 'running')
    expect((await mlp(login.home, ['daemon', 'stop'])).code).toBe(0)
    // stopping the daemon does not cancel its Slurm jobs
    expect(sh('scontrol', ['show', 'job', id])).toMatch(/JobState=(RUNNING|COMPLETING|COMPLETED) /)
    const r1 = await first
    expect(r1.code).not.toBe(0)
    login = await startLogin()
    const r2 = await mlp(alice.home, ['repro'], { cwd: proj, timeoutMs: 120_000 })
    expect(r2.code).toBe(0)
    // the same Slurm job, not a second one
    expect(readFileSync(join(proj, 'resume.txt'), 'utf8')).toBe(`job=${id}\n`)
    expect(jobNames().filter((n) => n === 'mlp-resume')).toHaveLength(1)
    // the restarted daemon followed that job itself, and collected its outs
    const jobs = await mlpJson<Array<{ stage: string, state: string, slurmJobId?: string }>>(login.home, ['jobs'])
    expect(jobs).toContainEqual(expect.objectContaining({ stage: 'resume', slurmJobId: id, state: 'done' }))
  }, 150_000)

  it('with slurmctld down the peer offers no capacity and a stage fails with one line saying so', async () => {
    sh(CLUSTER, ['stop'])
    try {
      // sinfo retries for ~9 s before it gives up on slurmctld; the login daemon answers with what it last knew meanwhile
      await waitFor('the partition to report no capacity', async () => {
        const peers = await mlpJson<Array<{ peerId: string, resources?: { slurm?: { error?: string } } }>>(alice.home, ['peers'])
        return peers.find((p) => p.peerId === login.peerId)?.resources?.slurm?.error != null
      }, 45_000)
      const proj = await project(alice.home, gpuStage('nowhere', 'echo > nowhere.txt'))
      const r = await mlp(alice.home, ['repro'], { cwd: proj })
      expect(r.code).not.toBe(0)
      expect(r.stderr).toContain('Slurm partition gpu: no capacity now (slurmctld does not answer: Unable to contact slurm controller (connect failure))')
      expect(r.stderr.trim().split('\n')).toHaveLength(1)
    } finally {
      sh(CLUSTER, ['start'])
    }
    // positive control: once it answers, the partition's GPU is offered again
    await waitFor('the partition to come back', async () => {
      const peers = await mlpJson<Array<{ peerId: string, resources?: { slurm?: { gpusTotal: number, error?: string } } }>>(alice.home, ['peers'])
      const s = peers.find((p) => p.peerId === login.peerId)?.resources?.slurm
      return s?.error == null && s?.gpusTotal === 1
    }, 30_000)
  }, 120_000)
})
