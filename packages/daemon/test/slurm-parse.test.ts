import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { phaseOf } from '../src/exec/slurm/outcome.js'
import { parseGres, parseScontrolJob, parseSinfo, parseSqueue } from '../src/exec/slurm/parse.js'
import { partitionGpus } from '../src/exec/slurm/resources.js'
import { parseSlurmConfig } from '../src/exec/slurm/config.js'
import { complaint, submitLimited, unreachable } from '../src/exec/slurm/commands.js'
import { describeResources, satisfies } from '../src/exec/resources.js'

// real output of Slurm 22.05.8 on the one-node test cluster, and hand-written
// OUT_OF_MEMORY / NODE_FAIL / PREEMPTED in the same format (see fixtures/slurm/README.md)
const fixture = (name: string): string => readFileSync(new URL(`fixtures/slurm/${name}`, import.meta.url), 'utf8')
const config = parseSlurmConfig({ partition: 'gpu', jobDir: '/shared/mlp', gresTypes: { 'NVIDIA H200': { type: 'h200', memoryMib: 143771 } } }, () => 'config.yaml')

/** What the executor concludes from one `scontrol show job` capture. */
function phaseOfFixture (name: string): ReturnType<typeof phaseOf> {
  const job = parseScontrolJob(fixture(name))
  if (job == null) throw new Error(`${name} holds no job`)
  return phaseOf(job.state, job.reason, job.id)
}

describe('sinfo', () => {
  it('reads free and used GPUs per node and type', () => {
    expect(parseSinfo(fixture('sinfo-idle.txt'))).toEqual([{ node: 'localhost', type: 'h200', total: 1, used: 0, state: 'idle' }])
    expect(parseSinfo(fixture('sinfo-busy.txt'))).toEqual([{ node: 'localhost', type: 'h200', total: 1, used: 1, state: 'mixed' }])
  })

  it('reads gres lists whose index lists hold commas, untyped gres, and skips other gres', () => {
    expect(parseGres('gpu:h200:2(IDX:0,2),gpu:a100:4(IDX:N/A),shard:8')).toEqual([{ type: 'h200', count: 2 }, { type: 'a100', count: 4 }])
    expect(parseGres('gpu:2(S:0-1)')).toEqual([{ type: '', count: 2 }])
    expect(parseGres('(null)')).toEqual([])
  })

  it('a busy partition still lists its GPUs, with none free; a drained node lists none', () => {
    const busy = partitionGpus(config, parseSinfo(fixture('sinfo-busy.txt')))
    expect(busy).toEqual([expect.objectContaining({ name: 'NVIDIA H200', memoryTotalMib: 143771, memoryFreeMib: 0 })])
    const r = { gpus: busy, cpus: 2, memoryBytes: 2 ** 34, freeMemoryBytes: 2 ** 33, runningJobs: 1, queuedJobs: 0, slurm: { partition: 'gpu', gpusTotal: 1, gpusFree: 0 } }
    // eligible although busy: the stage queues in Slurm
    expect(satisfies(r, { gpu: 1, gpuModel: 'H200' }).ok).toBe(true)
    expect(satisfies(r, { gpu: 2 }).ok).toBe(false)
    expect(describeResources(r)).toContain('Slurm partition gpu: 1 GPU (NVIDIA H200 x1), 0 free')
    expect(partitionGpus(config, [{ node: 'n1', type: 'h200', total: 4, used: 0, state: 'drained' }])).toEqual([])
  })

  it('a partition whose controller does not answer offers nothing and says why', () => {
    const r = { gpus: [], cpus: 2, memoryBytes: 1, freeMemoryBytes: 1, runningJobs: 0, queuedJobs: 0, slurm: { partition: 'gpu', gpusTotal: 0, gpusFree: 0, error: 'slurmctld does not answer' } }
    expect(satisfies(r, { gpu: 1 })).toEqual({ ok: false, why: 'Slurm partition gpu: slurmctld does not answer' })
  })
})

describe('squeue', () => {
  it('reads running and pending jobs with Slurm\'s reason', () => {
    const q = parseSqueue(fixture('squeue-running-pending.txt'))
    expect(q.get('6')).toEqual({ id: '6', state: 'RUNNING', reason: 'None' })
    expect(q.get('7')).toEqual({ id: '7', state: 'PENDING', reason: 'Resources' })
    expect(phaseOf('PENDING', 'Resources', '7')).toEqual({ phase: 'queued', reason: 'Resources' })
  })

  it('reads final states of recent jobs', () => {
    const q = parseSqueue(fixture('squeue-finished.txt'))
    expect([...q.values()].map((j) => j.state).sort()).toEqual(['CANCELLED', 'COMPLETED', 'COMPLETED', 'FAILED', 'TIMEOUT'])
  })

  it('refuses a line that is not a job', () => {
    expect(() => parseSqueue('slurm_load_jobs error: Unable to contact slurm controller\n')).toThrow('unexpected squeue line')
  })
})

describe('scontrol show job', () => {
  it('reads state, reason, exit code and signal', () => {
    expect(parseScontrolJob(fixture('scontrol-failed.txt'))).toEqual(expect.objectContaining({ id: '4', state: 'FAILED', reason: 'NonZeroExitCode', exitCode: 3, signal: 0 }))
    expect(parseScontrolJob(fixture('scontrol-timeout.txt'))).toEqual(expect.objectContaining({ id: '3', state: 'TIMEOUT', reason: 'TimeLimit', exitCode: 0, signal: 15, timeLimit: '00:01:00' }))
    expect(parseScontrolJob(fixture('scontrol-pending.txt'))).toEqual(expect.objectContaining({ state: 'PENDING', reason: 'Resources' }))
    expect(parseScontrolJob(fixture('scontrol-running.txt'))?.fields.TresPerNode).toBe('gres:gpu:h200:1')
  })

  it('a job Slurm forgot is undefined, not an error', () => {
    expect(parseScontrolJob(fixture('scontrol-invalid.txt'))).toBeUndefined()
  })

  it('says what each end means for the stage', () => {
    expect(phaseOfFixture('scontrol-running.txt')).toEqual({ phase: 'running' })
    expect(phaseOfFixture('scontrol-completed.txt')).toEqual({ phase: 'ended' })
    // a stage exiting non-zero: the script ran to its end, the exit file has the code
    expect(phaseOfFixture('scontrol-failed.txt')).toEqual({ phase: 'ended' })
    const failed = (name: string): string => {
      const p = phaseOfFixture(name)
      if (p.phase !== 'failed') throw new Error(`${name}: ${p.phase}`)
      return p.message
    }
    expect(failed('scontrol-timeout.txt')).toBe('Slurm job 3 ran past its time limit (TIMEOUT): raise the stage\'s resources.time (reason: TimeLimit)')
    expect(failed('scontrol-cancelled.txt')).toContain('was cancelled in Slurm (CANCELLED)')
    expect(failed('scontrol-oom.handwritten.txt')).toContain('ran out of memory (OUT_OF_MEMORY): raise the stage\'s resources.memory_mib')
    expect(failed('scontrol-node-fail.handwritten.txt')).toContain('lost its node (NODE_FAIL)')
    expect(failed('scontrol-node-fail.handwritten.txt')).toContain('reason: NodeDown')
    expect(failed('scontrol-preempted.handwritten.txt')).toContain('was preempted (PREEMPTED) and Slurm did not requeue it')
  })

  it('a preempted job Slurm requeued is waiting again, not failed', () => {
    const job = parseScontrolJob(fixture('scontrol-requeued.handwritten.txt'))
    expect(job?.restarts).toBe(1)
    expect(phaseOfFixture('scontrol-requeued.handwritten.txt')).toEqual({ phase: 'queued', reason: 'BeginTime' })
  })
})

describe('Slurm command failures', () => {
  it('tells an unreachable controller from a submit limit from any other refusal', () => {
    for (const f of ['sinfo-unreachable.stderr.txt', 'squeue-unreachable.stderr.txt', 'sbatch-unreachable.stderr.txt']) {
      expect(unreachable(fixture(f))).toBe(true)
      expect(submitLimited(fixture(f))).toBe(false)
    }
    const limited = fixture('sbatch-submit-limit.handwritten.stderr.txt')
    expect(submitLimited(limited)).toBe(true)
    expect(unreachable(limited)).toBe(false)
    const other = 'sbatch: error: Batch job submission failed: Invalid partition name specified\n'
    expect(submitLimited(other) || unreachable(other)).toBe(false)
    expect(complaint({ code: 1, stdout: '', stderr: other })).toBe('Batch job submission failed: Invalid partition name specified')
    expect(complaint({ code: 1, stdout: '', stderr: fixture('sbatch-unreachable.stderr.txt') })).toBe('Batch job submission failed: Unable to contact slurm controller (connect failure)')
    expect(complaint({ code: 1, stdout: '', stderr: fixture('sinfo-unreachable.stderr.txt') })).toBe('Unable to contact slurm controller (connect failure)')
  })
})
