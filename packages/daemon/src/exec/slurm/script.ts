import { join } from 'node:path'
import { SlurmJobError } from '@mlp/proto'
import type { JobSpec } from '../protocol.js'
import type { Launcher } from '../sandbox.js'
import type { SlurmConfig } from './config.js'
import { slurmTime } from './time-limit.js'

/** Files of a job's control directory (`<jobDir>/<job id>.slurm/`), beside the job's own directory so the stage never sees them. */
export const CONTROL = { script: 'job.sh', out: 'stdout', err: 'stderr', exit: 'exit', record: 'job.json' } as const

/** Slurm's variables a sandboxed stage gets back after bubblewrap clears the environment. */
const SLURM_VARS = ['CUDA_VISIBLE_DEVICES', 'SLURM_JOB_ID', 'SLURM_JOB_NAME', 'SLURM_JOB_PARTITION', 'SLURM_JOB_NODELIST', 'SLURM_CPUS_PER_TASK', 'SLURM_MEM_PER_NODE', 'SLURM_JOB_GPUS', 'SLURMD_NODENAME']

/** Largest values a requester may ask (they come from the wire). */
const MAX = { gpu: 64, cpus: 4096, memoryMib: 2 ** 31 }

/** `s` as one single-quoted sh word. */
export function shellQuote (s: string): string {
  return `'${s.replace(/'/g, "'\\''")}'`
}

/**
 * The batch script: runs the stage's commands in order from its working
 * directory (under the sandbox launcher when there is one), and writes the
 * stage's exit code into the control directory before it exits, because
 * without slurmdbd `scontrol` forgets a finished job after MinJobAge.
 */
export function jobScript (init: { spec: JobSpec, cwd: string, control: string, launcher?: Launcher }): string {
  const exit = join(init.control, CONTROL.exit)
  let prefix = ''
  const setup: string[] = []
  if (init.launcher != null) {
    // the launcher was made on the login node; the job runs on a compute node: its GPU device nodes, and
    // whether the daemon's home (hidden by a tmpfs) exists there, are found there, by the script
    const args: string[] = []
    const hidden: string[] = []
    const given = init.launcher.args
    for (let i = 0; i < given.length; i++) {
      if (given[i] === '--dev-bind' && given[i + 1]?.startsWith('/dev/nvidia') === true) i += 2
      else if (given[i] === '--tmpfs' && given[i + 1] !== '/tmp' && given[i + 1] != null) hidden.push(given[++i])
      else args.push(given[i])
    }
    setup.push('set --', 'for d in /dev/nvidia*; do if [ -e "$d" ]; then set -- "$@" --dev-bind "$d" "$d"; fi; done')
    for (const dir of hidden) setup.push(`if [ -d ${shellQuote(dir)} ]; then set -- "$@" --tmpfs ${shellQuote(dir)}; fi`)
    // Slurm sets these in the job's environment, which bwrap's --clearenv drops: pass each one that is set
    const at = args.lastIndexOf('--chdir')
    const keep = SLURM_VARS.map((v) => `\${${v}+--setenv ${v} "$${v}"}`).join(' ')
    // the tmpfs hiding the home must come before the job directory's bind: after the fixed --tmpfs /tmp
    const bind = args.indexOf('--bind')
    const before = bind >= 0 && bind < at ? bind : at
    prefix = `${[init.launcher.file, ...args.slice(0, before)].map(shellQuote).join(' ')} "$@" ${args.slice(before, at).map(shellQuote).join(' ')} ${keep} ${args.slice(at).map(shellQuote).join(' ')} `
  }
  return [
    '#!/bin/sh',
    `# mlp stage ${JSON.stringify(init.spec.stage)}, job ${init.spec.id}: written by the mlp daemon that submitted it`,
    `exit_file=${shellQuote(exit)}`,
    'finish () { printf \'%s\\n\' "$1" > "$exit_file.tmp" && mv -f "$exit_file.tmp" "$exit_file"; exit "$1"; }',
    ...setup,
    `cd ${shellQuote(init.cwd)} || finish 127`,
    ...init.spec.cmd.map((c) => `${prefix}/bin/sh -c -- ${shellQuote(c)} < /dev/null || finish $?`),
    'finish 0',
    ''
  ].join('\n')
}

/** The gres type a stage's `gpu_model` and `gpu_memory_mib` resolve to through `executor.gresTypes`, or '' for any GPU. */
export function gresType (config: SlurmConfig, want: { gpuModel?: string, gpuMemoryMib?: number }): string {
  const table = Object.entries(config.gresTypes)
  let candidates = table
  if (want.gpuModel != null) {
    const m = want.gpuModel.toLowerCase()
    candidates = table.filter(([model, g]) => model.toLowerCase().includes(m) || g.type.toLowerCase() === m)
    if (candidates.length === 0) throw new SlurmJobError(`gpu_model '${want.gpuModel}' has no gres type in this executor's executor.gresTypes (${table.length === 0 ? 'empty' : table.map(([model, g]) => `${model}: ${g.type}`).join(', ')})`)
  }
  if (want.gpuMemoryMib != null) {
    const known = candidates.filter(([, g]) => g.memoryMib != null)
    const fit = known.filter(([, g]) => (g.memoryMib as number) >= (want.gpuMemoryMib as number))
    // Slurm has no gres for GPU memory: only a model whose memory the table gives can answer it
    if (fit.length === 0) throw new SlurmJobError(`gpu_memory_mib ${want.gpuMemoryMib} cannot be asked of Slurm: ${known.length === 0 ? 'executor.gresTypes gives no GPU model\'s memory' : `no GPU model in executor.gresTypes has that much (${known.map(([model, g]) => `${model}: ${g.memoryMib as number} MiB`).join(', ')})`}`)
    return fit.sort((a, b) => (a[1].memoryMib as number) - (b[1].memoryMib as number))[0][1].type
  }
  return want.gpuModel != null ? candidates[0][1].type : ''
}

/**
 * sbatch's arguments for a stage: the executor's own `sbatchArgs` first, then
 * what the stage asks (later options win in sbatch). Every value is checked
 * here, because the spec comes from a peer; each flag is one argv entry, with
 * no shell between.
 */
export function sbatchArgs (init: { spec: JobSpec, config: SlurmConfig, cwd: string, control: string }): string[] {
  const { spec, config } = init
  const bad = (what: string): never => { throw new SlurmJobError(`job ${spec.id}: ${what}`) }
  if (!Number.isInteger(spec.gpu) || spec.gpu < 0 || spec.gpu > MAX.gpu) bad(`gpu must be a whole number from 0 to ${MAX.gpu}`)
  if (spec.cpus != null && (!Number.isInteger(spec.cpus) || spec.cpus < 1 || spec.cpus > MAX.cpus)) bad(`cpus must be a whole number from 1 to ${MAX.cpus}`)
  if (spec.memoryMib != null && (!Number.isInteger(spec.memoryMib) || spec.memoryMib < 1 || spec.memoryMib > MAX.memoryMib)) bad('memory_mib must be a positive whole number')
  const time = spec.time == null ? undefined : slurmTime(spec.time)
  if (spec.time != null && time == null) bad('time must be minutes or [days-]hours:minutes:seconds')
  if (spec.gpuModel != null && (typeof spec.gpuModel !== 'string' || spec.gpuModel.length > 128)) bad('gpu_model must be a short string')
  const args = [
    '--parsable',
    `--partition=${config.partition}`,
    `--job-name=mlp-${spec.stage.replace(/[^A-Za-z0-9_.@=+-]/g, '_').slice(0, 100)}`,
    `--output=${join(init.control, CONTROL.out)}`,
    `--error=${join(init.control, CONTROL.err)}`,
    `--chdir=${init.cwd}`,
    // the scrubbed environment sbatch is started with is the whole of the job's
    '--export=ALL',
    ...config.sbatchArgs
  ]
  if (spec.gpu > 0) {
    const type = gresType(config, spec)
    args.push(`--gres=gpu:${type === '' ? '' : `${type}:`}${spec.gpu}`)
  }
  if (spec.cpus != null) args.push(`--cpus-per-task=${spec.cpus}`)
  if (spec.memoryMib != null) args.push(`--mem=${spec.memoryMib}M`)
  if (time != null) args.push(`--time=${time}`)
  args.push(join(init.control, CONTROL.script))
  return args
}
