import type { JobInfo } from '@mlp/proto'
import { resolveJobId } from './job-prefix.js'
import type { LogLine } from './local.js'

/** Most log lines kept in memory per job (the rest are still streamed live). */
const MAX_LOG_LINES = 10_000

/** A job and what `mlp logs` and `mlp cancel` need of it. */
export interface JobRecord {
  info: JobInfo
  log: LogLine[]
  listeners: Set<(l: LogLine | null) => void>
  /** Stops the job (executor side). */
  abort?: AbortController
}

/** The jobs this daemon runs for peers or asked peers to run. */
export class JobTable {
  private readonly jobs = new Map<string, JobRecord>()

  add (info: JobInfo): JobRecord {
    const rec: JobRecord = { info, log: [], listeners: new Set() }
    this.jobs.set(info.id, rec)
    return rec
  }

  get (id: string): JobRecord | undefined {
    return this.jobs.get(id)
  }

  /** The job a whole id or a unique prefix names; throws as {@link resolveJobId} does. */
  resolve (prefix: string): JobRecord {
    return this.jobs.get(resolveJobId(prefix, this.jobs.keys())) as JobRecord
  }

  list (): JobInfo[] {
    return [...this.jobs.values()].map((j) => j.info)
  }

  counts (): { running: number, queued: number } {
    const all = [...this.jobs.values()].filter((j) => j.info.role === 'executor')
    return { running: all.filter((j) => j.info.state === 'running').length, queued: all.filter((j) => j.info.state === 'queued').length }
  }

  log (rec: JobRecord, line: LogLine): void {
    rec.log.push(line)
    if (rec.log.length > MAX_LOG_LINES) rec.log.shift()
    for (const l of rec.listeners) l(line)
  }

  finish (rec: JobRecord, state: JobInfo['state'], message?: string): void {
    rec.info.state = state
    rec.info.endedAt = new Date().toISOString()
    if (message != null) rec.info.message = message
    for (const l of rec.listeners) l(null)
  }
}

/**
 * Hands out GPU indexes, one job per GPU: a job asking for n GPUs waits, in
 * order of arrival, until n are free. Jobs never share a GPU.
 */
export class GpuAllocator {
  private free: number[]
  private readonly waiting: Array<{ n: number, wake: (gpus: number[]) => void }> = []

  constructor (indexes: number[]) {
    this.free = [...indexes]
  }

  get total (): number {
    return this.free.length + 0
  }

  async acquire (n: number, signal?: AbortSignal): Promise<number[]> {
    if (n === 0) return []
    if (this.waiting.length === 0 && this.free.length >= n) return this.free.splice(0, n)
    return await new Promise((resolve, reject) => {
      const entry = { n, wake: resolve }
      this.waiting.push(entry)
      signal?.addEventListener('abort', () => {
        const i = this.waiting.indexOf(entry)
        if (i >= 0) this.waiting.splice(i, 1)
        reject(signal.reason)
      }, { once: true })
    })
  }

  release (gpus: number[]): void {
    this.free.push(...gpus)
    this.free.sort((a, b) => a - b)
    while (this.waiting.length > 0 && this.free.length >= this.waiting[0].n) {
      const w = this.waiting.shift() as { n: number, wake: (gpus: number[]) => void }
      w.wake(this.free.splice(0, w.n))
    }
  }
}
