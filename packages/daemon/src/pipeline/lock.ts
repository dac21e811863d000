import { existsSync } from 'node:fs'
import { randomBytes } from 'node:crypto'
import { rename, rm, writeFile } from 'node:fs/promises'
import { dirname } from 'node:path'
import { parseDocument, stringify } from 'yaml'
import { PipelineError } from './errors.js'
import { readPipelineText } from './file-size.js'
import { checkRelativePath } from '../tracking/pointers.js'

/** A dep or out as recorded in the lock file. */
export interface LockedPath {
  path: string
  cid: string
  size: number
  nfiles?: number
}

/** One stage's entry in mlp.lock. */
export interface LockEntry {
  cmd: string | string[]
  deps: LockedPath[]
  /** file → key → value. */
  params: Record<string, Record<string, unknown>>
  outs: LockedPath[]
  /** Peer id of the machine the stage ran on; for a stage a Slurm executor ran, also its Slurm job id and partition. */
  ran_on?: string | SlurmRanOn
  /**
   * Wall seconds the stage's run took, as the requester timed it (for a
   * peer's or Slurm's run: sending, queueing, running and bringing the outs
   * back). Absent for a stage restored from a run cache: signed run-cache
   * entries carry no duration, and an unsigned one would be a peer's word.
   */
  duration_s?: number
  /** For a stage restored from a run cache instead of run: the peer id whose cache gave it (this machine's for its own). */
  restored_from?: string
}

/** A lock entry's `duration_s` when it is a plain non-negative number (locks are commits, possibly a teammate's); else undefined. */
export function lockDuration (e: { duration_s?: unknown }): number | undefined {
  const d = e.duration_s
  return typeof d === 'number' && Number.isFinite(d) && d >= 0 ? d : undefined
}

/** Seconds from a millisecond timer, to the millisecond: short enough to read, exact enough for a quick stage. */
export function durationSeconds (ms: number): number {
  return Math.round(Math.max(0, ms)) / 1000
}

/** `ran_on` of a stage a login-node daemon ran as a Slurm job: `{peer, slurm_job, partition}`. */
export interface SlurmRanOn {
  peer: string
  slurm_job: string
  partition: string
}

/** The peer id in a lock entry's `ran_on`, whichever form it has. */
export function ranOnPeer (ranOn: LockEntry['ran_on']): string | undefined {
  return typeof ranOn === 'string' ? ranOn : typeof ranOn?.peer === 'string' ? ranOn.peer : undefined
}

/** mlp.lock: the state every stage was last reproduced with. */
export interface LockFile {
  schema: '2.0'
  stages: Record<string, LockEntry>
}

/** The lock file beside a pipeline file: mlp.lock for mlp.yaml, dvc.lock's place for dvc.yaml too. */
export function lockPathFor (pipelineFile: string): string {
  return pipelineFile.replace(/(mlp|dvc)\.yaml$/, 'mlp.lock')
}

/** Reads a lock file (absent: empty; over `MAX_PIPELINE_FILE_BYTES`: refused); paths with `..` or absolute paths are refused. */
export function readLock (file: string): LockFile {
  if (!existsSync(file)) return { schema: '2.0', stages: {} }
  const doc = parseDocument(readPipelineText(file, dirname(file)), { prettyErrors: false })
  if (doc.errors.length > 0) throw new PipelineError(`${file}: not valid YAML: ${doc.errors[0].message.split('\n')[0]}`)
  const v = doc.toJS() as LockFile | null
  if (v == null) return { schema: '2.0', stages: {} }
  if (typeof v !== 'object' || v.stages == null || typeof v.stages !== 'object') throw new PipelineError(`${file}: expected 'schema' and 'stages'`)
  for (const [name, e] of Object.entries(v.stages)) {
    for (const p of [...(e.deps ?? []), ...(e.outs ?? [])]) checkRelativePath(p.path, `${file}: stage '${name}'`)
    e.deps ??= []
    e.outs ??= []
    e.params ??= {}
  }
  return v
}

/** Writes the lock atomically; stages in pipeline order. */
export async function writeLock (file: string, lock: LockFile, order: string[]): Promise<void> {
  const stages: Record<string, LockEntry> = {}
  for (const name of [...order, ...Object.keys(lock.stages)]) {
    const e = lock.stages[name]
    if (e == null || name in stages) continue
    stages[name] = {
      cmd: e.cmd,
      ...(e.deps.length > 0 ? { deps: e.deps } : {}),
      ...(Object.keys(e.params).length > 0 ? { params: e.params } : {}),
      ...(e.outs.length > 0 ? { outs: e.outs } : {}),
      ...(e.ran_on != null ? { ran_on: e.ran_on } : {}),
      ...(e.duration_s != null ? { duration_s: e.duration_s } : {}),
      ...(e.restored_from != null ? { restored_from: e.restored_from } : {})
    } as LockEntry
  }
  // a fresh name made with 'wx': a committed symlink named like the temp file is never written through
  const tmp = `${file}.${randomBytes(6).toString('hex')}.tmp`
  try {
    await writeFile(tmp, stringify({ schema: '2.0', stages }), { flag: 'wx' })
    await rename(tmp, file)
  } catch (err) {
    await rm(tmp, { force: true })
    throw err
  }
}
