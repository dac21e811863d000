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
  /** The run cache key the requester computed: the executor records its result under it. */
  key: string
}

/** Requester → executor. */
export type ExecRequest = { op: 'run', spec: JobSpec } | { op: 'cancel', id: string }

/** Executor → requester. */
export type ExecEvent =
  | { event: 'refused', message: string }
  | { event: 'queued' }
  | { event: 'started', gpus: number[] }
  | { event: 'log', stream: 'stdout' | 'stderr', line: string }
  | { event: 'done', outs: Array<{ path: string, cid: string, size: number, nfiles?: number }> }
  | { event: 'failed', message: string, stderrTail?: string[] }
  | { event: 'cancelled' }
