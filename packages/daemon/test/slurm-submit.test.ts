import { execFileSync } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { parseConfig } from '../src/config.js'
import { parseSlurmConfig } from '../src/exec/slurm/config.js'
import { jobScript, sbatchArgs } from '../src/exec/slurm/script.js'
import { slurmTime } from '../src/exec/slurm/time-limit.js'
import type { JobSpec } from '../src/exec/protocol.js'
import { loadPipeline, type Stage } from '../src/pipeline/schema.js'

const config = parseSlurmConfig({ partition: 'gpu', jobDir: '/shared/mlp', sbatchArgs: ['--time=04:00:00', '--account=lab'], gresTypes: { 'NVIDIA H200': { type: 'h200', memoryMib: 143771 }, 'NVIDIA A100': 'a100' } }, () => 'config.yaml')
const spec = (over: Partial<JobSpec> = {}): JobSpec => ({ id: '7801ccf2-afbb-4442-97c5-2ab67f10b97d', stage: 'train@lr=0.1', cmd: ['python train.py'], wdir: '.', inputs: [], outs: [], gpu: 1, deps: [], params: {}, key: 'k', ...over })
const args = (over: Partial<JobSpec> = {}): string[] => sbatchArgs({ spec: spec(over), config, cwd: '/shared/mlp/job', control: '/shared/mlp/job.slurm' })

describe('executor config', () => {
  it('reads kind: slurm with its keys, naming the line of a bad one', () => {
    const c = parseConfig('executor:\n  kind: slurm\n  partition: gpu\n  jobDir: /scratch/mlp\n  sbatchArgs: ["--time=01:00:00"]\n  gresTypes:\n    NVIDIA H200: h200\n')
    expect(c.executor?.slurm).toEqual({ partition: 'gpu', jobDir: '/scratch/mlp', sbatchArgs: ['--time=01:00:00'], gresTypes: { 'NVIDIA H200': { type: 'h200' } }, pollSeconds: 3 })
    expect(parseConfig('executor: {sandbox: false}\n').executor).toEqual({ sandbox: false })
    expect(() => parseConfig('executor:\n  kind: slurm\n  partition: gpu\n  jobDir: relative/dir\n', 'c.yaml')).toThrow("c.yaml:4: 'executor.jobDir' must be an absolute directory")
    expect(() => parseConfig('executor:\n  kind: slurm\n  jobDir: /x\n', 'c.yaml')).toThrow("'executor.partition' must be a Slurm partition name")
    expect(() => parseConfig('executor:\n  partition: gpu\n', 'c.yaml')).toThrow("c.yaml:2: 'executor.partition' needs 'executor.kind: slurm'")
    expect(() => parseConfig('executor:\n  kind: pbs\n', 'c.yaml')).toThrow("c.yaml:2: 'executor.kind' must be local or slurm")
    expect(() => parseConfig('executor:\n  kind: slurm\n  partition: gpu\n  jobDir: /x\n  sbatchArgs: [rm -rf]\n', 'c.yaml')).toThrow("c.yaml:5: 'executor.sbatchArgs' must be a list of sbatch options")
  })
})

describe('sbatch arguments', () => {
  it('maps the stage\'s resources to flags after the executor\'s own', () => {
    expect(args({ gpuModel: 'H200', cpus: 8, memoryMib: 64000, time: '02:00:00' })).toEqual([
      '--parsable', '--partition=gpu', '--job-name=mlp-train@lr=0.1', '--output=/shared/mlp/job.slurm/stdout', '--error=/shared/mlp/job.slurm/stderr',
      '--chdir=/shared/mlp/job', '--export=ALL', '--time=04:00:00', '--account=lab',
      '--gres=gpu:h200:1', '--cpus-per-task=8', '--mem=64000M', '--time=02:00:00', '/shared/mlp/job.slurm/job.sh'
    ])
    expect(args({ gpu: 2 })).toContain('--gres=gpu:2')
    expect(args({ gpu: 0 }).some((a) => a.startsWith('--gres'))).toBe(false)
  })

  it('gpu_memory_mib picks a model the table says has enough, or is refused clearly', () => {
    expect(args({ gpuMemoryMib: 80000 })).toContain('--gres=gpu:h200:1')
    expect(() => args({ gpuMemoryMib: 200000 })).toThrow('gpu_memory_mib 200000 cannot be asked of Slurm: no GPU model in executor.gresTypes has that much (NVIDIA H200: 143771 MiB)')
    expect(() => args({ gpuModel: 'A100', gpuMemoryMib: 40000 })).toThrow("executor.gresTypes gives no GPU model's memory")
    expect(() => args({ gpuModel: 'MI300' })).toThrow("gpu_model 'MI300' has no gres type")
  })

  it('refuses values from the wire that are not what a stage can ask', () => {
    expect(() => args({ gpu: -1 })).toThrow('gpu must be a whole number')
    expect(() => args({ cpus: 1.5 })).toThrow('cpus must be a whole number')
    expect(() => args({ time: '1; rm -rf /' })).toThrow('time must be minutes')
    expect(args({ stage: 'a b/../$(x)' })).toContain('--job-name=mlp-a_b_..___x_')
  })

  it('reads Slurm\'s time formats and nothing else', () => {
    for (const t of [90, '90', '30:00', '04:00:00', '2-12', '2-12:30', '2-12:30:00']) expect(slurmTime(t)).toBe(String(t))
    for (const t of [0, -5, 1.5, '0', '1h', '04:00:00:00', '', 'UNLIMITED']) expect(slurmTime(t)).toBeUndefined()
  })
})

describe('the batch script', () => {
  it('runs the commands in order, stops at the first failure, and leaves the exit code for the daemon', () => {
    const dir = mkdtempSync(join(tmpdir(), 'mlp-slurm-script-'))
    try {
      const run = (cmd: string[]): { code: number, exit: string, out: string } => {
        const file = join(dir, 'job.sh')
        writeFileSync(file, jobScript({ spec: spec({ cmd }), cwd: dir, control: dir }), { mode: 0o700 })
        let code = 0
        try {
          execFileSync('/bin/sh', [file], { cwd: '/', stdio: 'pipe' })
        } catch (err) {
          code = (err as { status: number }).status
        }
        return { code, exit: readFileSync(join(dir, 'exit'), 'utf8'), out: readFileSync(join(dir, 'log'), 'utf8') }
      }
      expect(run(['echo one >> log', "echo 'it''s' two >> log"])).toEqual({ code: 0, exit: '0\n', out: 'one\nits two\n' })
      rmSync(join(dir, 'log'))
      expect(run(['echo a >> log', 'exit 3', 'echo never >> log'])).toEqual({ code: 3, exit: '3\n', out: 'a\n' })
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })

  it('under a sandbox launcher, passes the Slurm variables that are set through bubblewrap\'s cleared environment', () => {
    const dir = mkdtempSync(join(tmpdir(), 'mlp-slurm-script-'))
    try {
      // a stand-in for bwrap: records its arguments, then runs what follows '--'
      const fake = join(dir, 'fake-bwrap')
      writeFileSync(fake, '#!/bin/sh\nprintf \'%s\\n\' "$@" > "$(dirname "$0")/args"\nwhile [ "$1" != "--" ]; do shift; done\nshift\nexec "$@"\n', { mode: 0o700 })
      const file = join(dir, 'job.sh')
      // as bwrapLauncher makes it on a login node with one GPU; the home to hide exists here, a second one does not
      const missing = join(dir, 'no-such-home')
      const launcher = { file: fake, args: ['--ro-bind', '/', '/', '--dev', '/dev', '--dev-bind', '/dev/nvidia0', '/dev/nvidia0', '--proc', '/proc', '--tmpfs', '/tmp', '--tmpfs', dir, '--tmpfs', missing, '--bind', dir, dir, '--clearenv', '--setenv', 'HOME', dir, '--chdir', dir, '--'] }
      writeFileSync(file, jobScript({ spec: spec({ cmd: ['echo ran > out'] }), cwd: dir, control: dir, launcher }), { mode: 0o700 })
      const env = { PATH: process.env.PATH, CUDA_VISIBLE_DEVICES: '0', SLURM_JOB_ID: '42' }
      execFileSync('/bin/sh', [file], { cwd: '/', env, stdio: 'pipe' })
      const argv = readFileSync(join(dir, 'args'), 'utf8').split('\n')
      // the GPU device nodes are the compute node's (this machine has none), a home that is not there is not mounted over
      const devices = existsSync('/dev/nvidia0') ? ['--dev-bind', '/dev/nvidia0', '/dev/nvidia0'] : []
      expect(argv.slice(0, argv.indexOf('/bin/sh') + 1)).toEqual(['--ro-bind', '/', '/', '--dev', '/dev', '--proc', '/proc', '--tmpfs', '/tmp', ...devices, '--tmpfs', dir, '--bind', dir, dir, '--clearenv', '--setenv', 'HOME', dir, '--setenv', 'CUDA_VISIBLE_DEVICES', '0', '--setenv', 'SLURM_JOB_ID', '42', '--chdir', dir, '--', '/bin/sh'])
      // a variable Slurm did not set is not invented
      expect(argv).not.toContain('SLURM_JOB_GPUS')
      expect(readFileSync(join(dir, 'out'), 'utf8')).toBe('ran\n')
      expect(readFileSync(join(dir, 'exit'), 'utf8')).toBe('0\n')
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })
})

describe('stage resources for a Slurm executor', () => {
  const load = (resources: string): Stage[] => {
    const dir = mkdtempSync(join(tmpdir(), 'mlp-slurm-schema-'))
    try {
      writeFileSync(join(dir, 'mlp.yaml'), `stages:\n  train:\n    cmd: python train.py\n    resources: ${resources}\n`)
      return loadPipeline(join(dir, 'mlp.yaml')).stages
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  }

  it('reads cpus, memory_mib and time beside the GPU keys', () => {
    expect(load('{gpu: 1, cpus: 8, memory_mib: 64000, time: "04:00:00"}')[0].resources).toEqual({ gpu: 1, gpuMemoryMib: undefined, gpuModel: undefined, cpus: 8, memoryMib: 64000, time: '04:00:00' })
    expect(load('{time: 90}')[0].resources?.time).toBe('90')
  })

  it('refuses values Slurm could not take, naming the key', () => {
    expect(() => load('{cpus: 0}')).toThrow('resources.cpus must be a positive whole number')
    expect(() => load('{memory_mib: 1.5}')).toThrow('resources.memory_mib must be a positive whole number')
    expect(() => load('{time: "4 hours"}')).toThrow('resources.time must be minutes or Slurm\'s [days-]hours:minutes:seconds')
    expect(() => load('{partition: gpu}')).toThrow("resources: unknown key 'partition' (known: gpu, gpu_memory_mib, gpu_model, cpus, memory_mib, time)")
  })
})
