import type { Logger } from '../../logger.js'
import { complaint, slurm, unreachable } from './commands.js'
import { parseScontrolJob, parseSqueue, SQUEUE_FORMAT } from './parse.js'

/** What one poll learnt of a job. */
export type JobSighting =
  | { seen: 'state', state: string, reason: string }
  /** Neither squeue nor scontrol knows it any more (MinJobAge passed): its exit file is all that is left. */
  | { seen: 'gone' }
  /** slurmctld did not answer: the job may still be fine. */
  | { seen: 'unreachable', message: string }

type Watcher = (s: JobSighting) => void

/**
 * Follows every job this daemon submitted with one `squeue --me` per poll,
 * however many jobs there are (a cluster's controller is shared by everyone:
 * the poll rate is bounded by `executor.pollSeconds`), and `scontrol show job`
 * only for a job squeue no longer lists.
 */
export class SlurmTracker {
  private readonly watchers = new Map<string, Set<Watcher>>()
  private timer?: NodeJS.Timeout
  private polling = false

  constructor (private readonly init: { pollMs: number, log: Logger }) {}

  /** Calls `onSight` after each poll until the returned function is called. */
  watch (jobId: string, onSight: Watcher): () => void {
    const set = this.watchers.get(jobId) ?? new Set()
    this.watchers.set(jobId, set.add(onSight))
    this.schedule(0)
    return () => {
      set.delete(onSight)
      if (set.size === 0) this.watchers.delete(jobId)
    }
  }

  /** Stops polling (the daemon stops; the jobs go on in Slurm). */
  stop (): void {
    clearTimeout(this.timer)
    this.timer = undefined
    this.watchers.clear()
  }

  private schedule (ms: number): void {
    if (this.timer != null || this.polling) return
    this.timer = setTimeout(() => {
      this.timer = undefined
      void this.poll()
    }, ms)
  }

  private async poll (): Promise<void> {
    if (this.watchers.size === 0) return
    this.polling = true
    try {
      const sightings = await this.look([...this.watchers.keys()])
      for (const [id, s] of sightings) for (const w of this.watchers.get(id) ?? []) w(s)
    } catch (err) {
      this.init.log.warn('slurm poll failed', { error: (err as Error).message })
      for (const set of this.watchers.values()) for (const w of set) w({ seen: 'unreachable', message: (err as Error).message })
    } finally {
      this.polling = false
      if (this.watchers.size > 0) this.schedule(this.init.pollMs)
    }
  }

  private async look (ids: string[]): Promise<Map<string, JobSighting>> {
    const out = new Map<string, JobSighting>()
    // -t all: a job that just ended is still listed (until MinJobAge) with its final state
    const q = await slurm('squeue', ['--me', '-h', '-t', 'all', '-o', SQUEUE_FORMAT])
    if (q.code !== 0) {
      const message = unreachable(q.stderr) ? `slurmctld does not answer: ${complaint(q)}` : `squeue failed: ${complaint(q)}`
      for (const id of ids) out.set(id, { seen: 'unreachable', message })
      return out
    }
    const listed = parseSqueue(q.stdout)
    for (const id of ids) {
      const job = listed.get(id)
      if (job != null) {
        out.set(id, { seen: 'state', state: job.state, reason: job.reason })
        continue
      }
      const s = await slurm('scontrol', ['show', 'job', id])
      const parsed = s.code === 0 ? parseScontrolJob(s.stdout) : undefined
      if (parsed != null) out.set(id, { seen: 'state', state: parsed.state, reason: parsed.reason })
      else if (/Invalid job id/i.test(s.stderr + s.stdout)) out.set(id, { seen: 'gone' })
      else out.set(id, { seen: 'unreachable', message: `scontrol failed: ${complaint(s)}` })
    }
    return out
  }
}
