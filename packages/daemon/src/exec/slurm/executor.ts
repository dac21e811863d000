import { mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { SlurmJobError, SlurmUnavailableError } from '@mlp/proto'
import type { Logger } from '../../logger.js'
import { isJobId } from '../job-id.js'
import type { LogLine } from '../local.js'
import type { JobSpec } from '../protocol.js'
import type { Launcher } from '../sandbox.js'
import { complaint, slurm, submitLimited, unreachable } from './commands.js'
import type { SlurmConfig } from './config.js'
import { OutputFollower } from './follow.js'
import { phaseOf } from './outcome.js'
import { CONTROL, jobScript, sbatchArgs } from './script.js'
import { SlurmTracker, type JobSighting } from './tracker.js'

/** How often a running job's output files are read for new lines. */
const OUTPUT_POLL_MS = 500
/** Wait before submitting again after sbatch hit a per-user limit. */
const SUBMIT_RETRY_MS = 30_000
/** How long slurmctld may stay silent before a job waiting on it is failed. */
const UNREACHABLE_GIVE_UP_MS = 10 * 60_000
/** Lines of stderr kept for the requester's error. */
const TAIL_LINES = 20

/** What a job's control directory records, so a restarted daemon re-attaches to it. */
export interface SlurmJobRecord {
  spec: JobSpec
  /** The requester. */
  peer: string
  /** This daemon's peer id: a shared jobDir may hold other users' daemons' jobs. */
  executor: string
  slurmJobId: string
  submittedAt: string
}

/** Callbacks and context of one job. */
export interface SlurmRunInit {
  spec: JobSpec
  peer: string
  /** The job's directory (`<jobDir>/<job id>`), already holding its inputs. */
  work: string
  cwd: string
  /** The scrubbed environment the job gets (sbatch passes it on with --export=ALL). */
  env: Record<string, string>
  launcher?: Launcher
  signal: AbortSignal
  onLine: (l: LogLine) => void
  onQueued: (slurmJobId: string, reason: string) => void
  onRunning: (slurmJobId: string) => void
  /** Slurm took the job (before its first state is known). */
  onSubmitted?: (slurmJobId: string) => void
  /** True when the daemon is stopping: the job is left in Slurm for the next start to re-attach to. */
  leaving: () => boolean
}

/** A Slurm job that ran its script to the end. */
export interface SlurmRunResult {
  code: number
  stderrTail: string[]
  slurmJobId: string
}

/**
 * Runs stages as Slurm jobs: writes the batch script beside the job's
 * directory, submits it with sbatch, follows its state with the shared
 * {@link SlurmTracker} and its output files line by line, and reads the exit
 * code the script left. Slurm queues, places and accounts; this only watches.
 */
export class SlurmExecutor {
  readonly tracker: SlurmTracker

  constructor (readonly config: SlurmConfig, private readonly init: { log: Logger, self: string }) {
    this.tracker = new SlurmTracker({ pollMs: config.pollSeconds * 1000, log: init.log })
  }

  /** The job's own directory. */
  workDir (id: string): string {
    return join(this.config.jobDir, id)
  }

  /** Its control directory (script, output files, exit code, record), beside it. */
  controlDir (id: string): string {
    return join(this.config.jobDir, `${id}.slurm`)
  }

  /** Submits the job and follows it to its end. */
  async run (init: SlurmRunInit): Promise<SlurmRunResult> {
    const slurmJobId = await this.submit(init)
    init.onSubmitted?.(slurmJobId)
    return await this.follow(slurmJobId, init)
  }

  /** Writes the script and submits it, waiting out per-user submit limits; resolves with Slurm's job id. */
  async submit (init: SlurmRunInit): Promise<string> {
    const control = this.controlDir(init.spec.id)
    await mkdir(control, { recursive: true, mode: 0o700 })
    const args = sbatchArgs({ spec: init.spec, config: this.config, cwd: init.cwd, control })
    await writeFile(join(control, CONTROL.script), jobScript({ spec: init.spec, cwd: init.cwd, control, launcher: init.launcher }), { mode: 0o700 })
    // the job's environment is exactly the scrubbed one; SLURM_CONF is how a site may point at its config
    const env = { ...init.env, ...(process.env.SLURM_CONF != null ? { SLURM_CONF: process.env.SLURM_CONF } : {}) }
    for (;;) {
      init.signal.throwIfAborted()
      const r = await slurm('sbatch', args, env)
      if (r.code === 0) {
        const slurmJobId = r.stdout.trim().split(';')[0]
        if (!/^\d+$/.test(slurmJobId)) throw new SlurmJobError(`sbatch answered '${r.stdout.trim()}', not a job id`)
        const record: SlurmJobRecord = { spec: init.spec, peer: init.peer, executor: this.init.self, slurmJobId, submittedAt: new Date().toISOString() }
        await writeFile(join(control, `${CONTROL.record}.tmp`), JSON.stringify(record))
        await rename(join(control, `${CONTROL.record}.tmp`), join(control, CONTROL.record))
        this.init.log.info('slurm job submitted', { job: init.spec.id, stage: init.spec.stage, slurmJobId })
        return slurmJobId
      }
      if (unreachable(r.stderr)) throw new SlurmUnavailableError(`Slurm did not take stage '${init.spec.stage}': slurmctld does not answer (${complaint(r)})`)
      if (!submitLimited(r.stderr)) throw new SlurmJobError(`sbatch refused stage '${init.spec.stage}': ${complaint(r)}`)
      // stays queued here, and goes to Slurm as soon as the user's limit lets it
      init.onLine({ stream: 'stderr', line: `sbatch refused the job for now (${complaint(r)}): submitting again in ${SUBMIT_RETRY_MS / 1000} s` })
      await sleep(SUBMIT_RETRY_MS, init.signal)
    }
  }

  /** Follows a submitted job to its end (also after a restart, from its record). */
  async follow (slurmJobId: string, init: SlurmRunInit): Promise<SlurmRunResult> {
    const control = this.controlDir(init.spec.id)
    const tail: string[] = []
    const onLine = (l: LogLine): void => {
      if (l.stream === 'stderr') {
        tail.push(l.line)
        if (tail.length > TAIL_LINES) tail.shift()
      }
      init.onLine(l)
    }
    const outputs = [new OutputFollower(join(control, CONTROL.out), 'stdout', onLine), new OutputFollower(join(control, CONTROL.err), 'stderr', onLine)]
    const reading = setInterval(() => { for (const o of outputs) void o.look().catch(() => {}) }, OUTPUT_POLL_MS)
    const queue: JobSighting[] = []
    let wake = (): void => {}
    const unwatch = this.tracker.watch(slurmJobId, (s) => { queue.push(s); wake() })
    const aborted = new Promise<never>((resolve, reject) => {
      if (init.signal.aborted) reject(init.signal.reason)
      init.signal.addEventListener('abort', () => { reject(init.signal.reason) }, { once: true })
    })
    aborted.catch(() => {})
    const next = async (): Promise<JobSighting> => {
      while (queue.length === 0) await Promise.race([new Promise<void>((resolve) => { wake = resolve }), aborted])
      return queue.shift() as JobSighting
    }
    let running = false
    let reason: string | undefined
    let silentSince: number | undefined
    try {
      for (;;) {
        const s = await next()
        if (s.seen === 'unreachable') {
          silentSince ??= Date.now()
          if (Date.now() - silentSince > UNREACHABLE_GIVE_UP_MS) throw new SlurmUnavailableError(`lost track of Slurm job ${slurmJobId}: ${s.message} for ${UNREACHABLE_GIVE_UP_MS / 60_000} minutes`)
          continue
        }
        silentSince = undefined
        if (s.seen === 'gone') break
        const p = phaseOf(s.state, s.reason, slurmJobId)
        if (p.phase === 'failed') throw new SlurmJobError(`stage '${init.spec.stage}': ${p.message}`)
        if (p.phase === 'ended') break
        if (p.phase === 'queued' && p.reason !== reason) {
          reason = p.reason
          running = false
          init.onQueued(slurmJobId, p.reason)
        } else if (p.phase === 'running' && !running) {
          running = true
          reason = undefined
          init.onRunning(slurmJobId)
        }
      }
      let text: string
      try {
        text = await readFile(join(control, CONTROL.exit), 'utf8')
      } catch {
        throw new SlurmJobError(`stage '${init.spec.stage}': Slurm job ${slurmJobId} ended without writing its exit code (its script was killed before its end)`)
      }
      const code = Number(text.trim())
      return { code: Number.isInteger(code) ? code : 1, stderrTail: tail, slurmJobId }
    } catch (err) {
      if (init.signal.aborted && !init.leaving()) await this.cancel(slurmJobId)
      throw err
    } finally {
      clearInterval(reading)
      unwatch()
      for (const o of outputs) {
        await o.look(true).catch(() => {})
        await o.close()
      }
    }
  }

  /** `scancel`; a job Slurm already forgot is no error. */
  async cancel (slurmJobId: string): Promise<void> {
    const r = await slurm('scancel', [slurmJobId])
    if (r.code !== 0 && !/Invalid job id|already completing or completed/i.test(r.stderr)) this.init.log.warn('scancel failed', { slurmJobId, error: complaint(r) })
    else this.init.log.info('slurm job cancelled', { slurmJobId })
  }

  /** Records of this daemon's jobs left in the job directory by an earlier run of it. */
  async records (): Promise<SlurmJobRecord[]> {
    let names: string[]
    try {
      names = await readdir(this.config.jobDir)
    } catch {
      return []
    }
    const out: SlurmJobRecord[] = []
    for (const name of names) {
      const id = name.replace(/\.slurm$/, '')
      if (id === name || !isJobId(id)) continue
      try {
        const r = JSON.parse(await readFile(join(this.config.jobDir, name, CONTROL.record), 'utf8')) as SlurmJobRecord
        if (r.executor === this.init.self && r.spec?.id === id && /^\d+$/.test(r.slurmJobId)) out.push(r)
      } catch {
        // submitted by no one (the daemon stopped before sbatch answered), or not ours
      }
    }
    return out
  }

  /** Removes a finished job's directories. */
  async clean (id: string): Promise<void> {
    await rm(this.workDir(id), { recursive: true, force: true })
    await rm(this.controlDir(id), { recursive: true, force: true })
  }

  stop (): void {
    this.tracker.stop()
  }
}

async function sleep (ms: number, signal: AbortSignal): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const t = setTimeout(resolve, ms)
    signal.addEventListener('abort', () => { clearTimeout(t); reject(signal.reason) }, { once: true })
  })
}
