/** Where a Slurm job stands, as the executor acts on it. */
export type SlurmPhase =
  | { phase: 'queued', reason: string }
  | { phase: 'running' }
  /** The batch script ran to its end: the stage's exit code is in the job's exit file. */
  | { phase: 'ended' }
  /** Slurm ended it: the one-line reason for the requester. */
  | { phase: 'failed', message: string }

/** States in which Slurm will still start the job (a preempted job Slurm requeued comes back PENDING). */
const QUEUED = new Set(['PENDING', 'REQUEUED', 'REQUEUE_FED', 'REQUEUE_HOLD', 'RESV_DEL_HOLD', 'CONFIGURING', 'RESIZING', 'SUSPENDED', 'STOPPED'])
/** States in which it runs, or is being cleaned up after running. */
const RUNNING = new Set(['RUNNING', 'COMPLETING', 'STAGE_OUT', 'SIGNALING'])

/** Why Slurm ended a job, in words a requester can act on. */
const ENDED: Record<string, string> = {
  TIMEOUT: 'ran past its time limit (TIMEOUT): raise the stage\'s resources.time',
  OUT_OF_MEMORY: 'ran out of memory (OUT_OF_MEMORY): raise the stage\'s resources.memory_mib',
  NODE_FAIL: 'lost its node (NODE_FAIL): the node failed under it; run it again',
  PREEMPTED: 'was preempted (PREEMPTED) and Slurm did not requeue it; run it again',
  BOOT_FAIL: 'could not start: its node failed to boot (BOOT_FAIL)',
  DEADLINE: 'missed its deadline (DEADLINE)',
  CANCELLED: 'was cancelled in Slurm (CANCELLED)',
  REVOKED: 'was revoked by Slurm (REVOKED)',
  SPECIAL_EXIT: 'ended in a special exit state (SPECIAL_EXIT)'
}

/**
 * What a Slurm state means for the stage. `COMPLETED` and `FAILED` both mean
 * the script ran to its end (a stage exiting non-zero makes the script exit
 * non-zero): the exit file says the rest. An unknown state counts as running,
 * so a newer Slurm's extra states never fail a job by themselves.
 */
export function phaseOf (state: string, reason: string, jobId: string): SlurmPhase {
  const base = state.split(/[\s+]/)[0].toUpperCase()
  if (QUEUED.has(base)) return { phase: 'queued', reason }
  if (RUNNING.has(base)) return { phase: 'running' }
  if (base === 'COMPLETED' || base === 'FAILED') return { phase: 'ended' }
  const why = ENDED[base]
  if (why != null) {
    const detail = reason !== '' && reason !== 'None' && !why.includes(reason) ? ` (reason: ${reason})` : ''
    return { phase: 'failed', message: `Slurm job ${jobId} ${why}${detail}` }
  }
  return { phase: 'running' }
}
