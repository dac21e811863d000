import { isAbsolute } from 'node:path'
import { ConfigError } from '@mlp/proto'

/** A GPU model's gres type, and its memory (to match `gpu_memory_mib`, which Slurm cannot express). */
export interface GresType {
  type: string
  memoryMib?: number
}

/**
 * `executor: {kind: slurm, ...}` in config.yaml: this daemon (one per user, on
 * the cluster's login node) hands every stage placed on it to Slurm.
 */
export interface SlurmConfig {
  /** Partition jobs go to and whose GPUs this daemon reports. */
  partition: string
  /** Absolute directory on the cluster's shared filesystem; each job gets `<jobDir>/<job id>`. */
  jobDir: string
  /** Extra sbatch arguments for every job (default none); a stage's own resources come after, so they win. */
  sbatchArgs: string[]
  /** GPU model name as stages write `gpu_model` (`NVIDIA H200`) → gres type and memory (default none: `--gres=gpu:N`). */
  gresTypes: Record<string, GresType>
  /** Seconds between two `squeue` calls (default 3, at least 1): one call per poll whatever the number of jobs. */
  pollSeconds: number
}

/** Keys of `executor` that only `kind: slurm` takes. */
export const SLURM_KEYS = ['partition', 'jobDir', 'sbatchArgs', 'gresTypes', 'pollSeconds'] as const

/** Default seconds between two squeue polls. */
export const DEFAULT_POLL_SECONDS = 3

/** What a gres type, partition or model name may hold: no shell or sbatch syntax. */
const NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/

/**
 * Validates the Slurm keys of `executor` (plain values, as YAML gave them);
 * `at(key)` names the file and line of a key for the error.
 */
export function parseSlurmConfig (raw: Record<string, unknown>, at: (key: string) => string): SlurmConfig {
  const fail = (key: string, what: string): never => { throw new ConfigError(`${at(key)}: 'executor.${key}' ${what}`) }
  const partition = raw.partition
  if (typeof partition !== 'string' || !NAME.test(partition)) fail('partition', 'must be a Slurm partition name (kind: slurm needs one)')
  const jobDir = raw.jobDir
  if (typeof jobDir !== 'string' || !isAbsolute(jobDir)) fail('jobDir', 'must be an absolute directory on the cluster\'s shared filesystem (kind: slurm needs one)')
  const sbatchArgs = raw.sbatchArgs ?? []
  if (!Array.isArray(sbatchArgs) || sbatchArgs.some((a) => typeof a !== 'string' || !a.startsWith('-'))) fail('sbatchArgs', 'must be a list of sbatch options such as ["--time=04:00:00"]')
  const gresTypes: Record<string, GresType> = {}
  const table = raw.gresTypes ?? {}
  if (typeof table !== 'object' || table == null || Array.isArray(table)) fail('gresTypes', 'must map GPU model names to gres types, such as {NVIDIA H200: h200} or {NVIDIA H200: {type: h200, memoryMib: 143771}}')
  for (const [model, v] of Object.entries(table as Record<string, unknown>)) {
    const entry = typeof v === 'string' ? { type: v } : v as Record<string, unknown>
    if (typeof entry !== 'object' || entry == null || typeof entry.type !== 'string' || !NAME.test(entry.type)) fail('gresTypes', `entry '${model}' must be a gres type name or {type, memoryMib}`)
    if (entry.memoryMib != null && (!Number.isInteger(entry.memoryMib) || (entry.memoryMib as number) <= 0)) fail('gresTypes', `entry '${model}': memoryMib must be a positive whole number`)
    gresTypes[model] = { type: entry.type as string, ...(entry.memoryMib != null ? { memoryMib: entry.memoryMib as number } : {}) }
  }
  const pollSeconds = raw.pollSeconds ?? DEFAULT_POLL_SECONDS
  if (typeof pollSeconds !== 'number' || !Number.isFinite(pollSeconds) || pollSeconds < 1 || pollSeconds > 600) fail('pollSeconds', 'must be a number of seconds from 1 to 600')
  return { partition: partition as string, jobDir: jobDir as string, sbatchArgs: sbatchArgs as string[], gresTypes, pollSeconds: pollSeconds as number }
}

/** The model name the table gives a gres type (for `mlp peers`), or the type itself. */
export function modelOf (config: SlurmConfig, type: string): { name: string, memoryMib?: number } {
  for (const [model, g] of Object.entries(config.gresTypes)) if (g.type === type) return { name: model, memoryMib: g.memoryMib }
  return { name: type === '' ? 'GPU' : type }
}
