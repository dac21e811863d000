import { cpus, freemem, totalmem } from 'node:os'
import type { GpuInfo, Resources } from '@mlp/proto'
import { complaint, slurm, unreachable } from './commands.js'
import { modelOf, type SlurmConfig } from './config.js'
import { nodeUnusable, parseSinfo, SINFO_FORMAT, type NodeGpus } from './parse.js'

/**
 * The partition's GPUs as peers see them: one entry per GPU of a usable node,
 * named by the `executor.gresTypes` table (or the gres type), free memory 0
 * on a GPU a job holds. A busy partition still lists every GPU: placement
 * keeps it eligible and the stage queues in Slurm.
 */
export function partitionGpus (config: SlurmConfig, nodes: NodeGpus[]): GpuInfo[] {
  const out: GpuInfo[] = []
  for (const n of nodes.filter((x) => !nodeUnusable(x.state))) {
    const model = modelOf(config, n.type)
    const memory = model.memoryMib ?? 0
    for (let i = 0; i < n.total; i++) {
      const free = i >= n.used
      out.push({ index: out.length, uuid: `slurm:${config.partition}:${n.node}:${n.type}:${i}`, name: model.name, memoryTotalMib: memory, memoryUsedMib: free ? 0 : memory, memoryFreeMib: free ? memory : 0, utilizationPct: free ? 0 : 100, driverVersion: 'slurm', computeCap: n.type })
    }
  }
  return out
}

/**
 * What this login-node daemon offers: the partition's GPUs from one `sinfo`.
 * When slurmctld does not answer, no GPU at all (and why), so no requester
 * places a stage here until it answers again.
 */
export async function slurmResources (config: SlurmConfig, jobs: { running: number, queued: number }): Promise<Resources> {
  const base = { cudaVersion: undefined, cpus: cpus().length, memoryBytes: totalmem(), freeMemoryBytes: freemem(), runningJobs: jobs.running, queuedJobs: jobs.queued }
  let error: string | undefined
  let gpus: GpuInfo[] = []
  try {
    const r = await slurm('sinfo', ['-h', '-N', '-p', config.partition, '-O', SINFO_FORMAT])
    if (r.code !== 0) error = unreachable(r.stderr) ? `slurmctld does not answer: ${complaint(r)}` : `sinfo failed: ${complaint(r)}`
    else gpus = partitionGpus(config, parseSinfo(r.stdout))
  } catch (err) {
    error = (err as Error).message
  }
  const free = gpus.filter((g) => g.utilizationPct === 0).length
  return { ...base, gpus, slurm: { partition: config.partition, gpusTotal: gpus.length, gpusFree: free, ...(error != null ? { error } : {}) } }
}

/** How long a partition answer is reused before sinfo is asked again. */
const PARTITION_TTL_MS = 5_000
/** How long a peer's question waits on a fresh sinfo before getting the last answer: peers give up after 2 s, and with slurmctld down sinfo takes ~9 s. */
const ANSWER_WITHIN_MS = 1_000

/**
 * The partition's resources, refreshed at most every few seconds by one
 * sinfo at a time. A slow sinfo (slurmctld down: ~9 s of retries, measured)
 * never makes a peer's question time out: it gets the last answer, and the
 * next one says "no capacity" once sinfo has failed.
 */
export class PartitionResources {
  private last?: { at: number, value: Resources }
  private refreshing?: Promise<Resources>

  constructor (private readonly config: SlurmConfig, private readonly jobs: () => { running: number, queued: number }) {}

  async get (): Promise<Resources> {
    const counts = this.jobs()
    if (this.last != null && Date.now() - this.last.at <= PARTITION_TTL_MS) return { ...this.last.value, runningJobs: counts.running, queuedJobs: counts.queued }
    this.refreshing ??= slurmResources(this.config, counts).then((value) => {
      this.last = { at: Date.now(), value }
      return value
    }).finally(() => { this.refreshing = undefined })
    const last = this.last
    let timer: NodeJS.Timeout | undefined
    const value = last == null
      ? await this.refreshing
      : await Promise.race([this.refreshing, new Promise<Resources>((resolve) => { timer = setTimeout(() => { resolve(last.value) }, ANSWER_WITHIN_MS) })])
    clearTimeout(timer)
    return { ...value, runningJobs: counts.running, queuedJobs: counts.queued }
  }
}
