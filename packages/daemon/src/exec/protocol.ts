import type { SignedResult } from '../trust/results.js'

/** libp2p protocol id of remote stage execution. */
export const EXEC_PROTOCOL = '/mlp/exec/1.0.0'
/** libp2p protocol id of resource queries. */
export const RESOURCES_PROTOCOL = '/mlp/resources/1.0.0'

/** A stage as sent to an executor: everything it needs, by content id. */
export interface JobSpec {
  id: string
  stage: string
  cmd: string[]
  /** Working directory relative to the project root. */
  wdir: string
  /** Deps and params files, relative to the project root, with their content ids. */
  inputs: Array<{ path: string, cid: string }>
  outs: Array<{ path: string, cache: boolean }>
  gpu: number
  gpuMemoryMib?: number
  gpuModel?: string
  /** CPUs, memory (MiB) and wall time (Slurm's format) the stage asks: a Slurm executor maps them to sbatch flags; others ignore them. */
  cpus?: number
  memoryMib?: number
  time?: string
  /** The deps as the stage key hashes them (root-relative path, content id); each is also an input. */
  deps: Array<{ path: string, cid: string }>
  /** Param values the stage key hashes: params file (relative to wdir) → key → value. */
  params: Record<string, Record<string, unknown>>
  /** The run cache key the requester computed: the executor recomputes it, then signs its result under it. */
  key: string
}

/** Where a Slurm executor ran a job: the requester records it in mlp.lock's `ran_on`. */
export interface SlurmRun {
  jobId: string
  partition: string
}

/** Requester → executor. */
export type ExecRequest = { op: 'run', spec: JobSpec } | { op: 'cancel', id: string }

/** Executor → requester. */
export type ExecEvent =
  | { event: 'refused', message: string }
  | { event: 'queued' }
  | { event: 'started', gpus: number[] }
  | { event: 'log', stream: 'stdout' | 'stderr', line: string }
  /** The declared outs, signed by the executor (see trust/results.ts): the requester checks both before writing anything. */
  | ({ event: 'done', slurm?: SlurmRun } & SignedResult)
  | { event: 'failed', message: string, stderrTail?: string[] }
  | { event: 'cancelled' }
