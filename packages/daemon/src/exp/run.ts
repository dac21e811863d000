import { existsSync, readFileSync } from 'node:fs'
import { relative } from 'node:path'
import { ExpError, type ExpLock, type ExpRecord, type ExpRunProgress, type ExpRunResult, type StageOutcome } from '@mlp/proto'
import { readLock, ranOnPeer } from '../pipeline/lock.js'
import { requireProjectPipeline } from '../pipeline/project-pipeline.js'
import { readMetrics, readParamsDiff } from '../pipeline/read-only.js'
import { reproduce } from '../pipeline/reproduce.js'
import { requireProjectId } from '../tracking/project-id.js'
import { findProject } from '../tracking/project.js'
import { registerProject } from '../tracking/roots.js'
import type { ExpComponents } from './context.js'
import { MAX_NAME_LENGTH } from './constants.js'
import { headCommit, trackedChanges } from './git.js'
import { generateName } from './names.js'
import { storePatch } from './patch.js'
import { EXP_NAME_PATTERN, oneLineReason, recordProblem, signRecord } from './record.js'
import { applyParamSets, parseParamSet } from './set-params.js'

/** Options of {@link runExperiment}. */
export interface RunOptions {
  set?: string[]
  name?: string
  signal?: AbortSignal
  onEvent?: (e: ExpRunProgress) => void
}

/**
 * `mlp exp run`: sets the params (`-S`), records the uncommitted changes to
 * tracked files as a patch in the block store, runs the pipeline as `mlp
 * repro` does (GPU stages go to peers, the run cache is asked), and signs a
 * record of it all: `running` first, then `done` or `failed`, each pushed
 * to the connected teammates. The workspace ends holding the results.
 */
export async function runExperiment (c: ExpComponents, cwd: string, options: RunOptions = {}): Promise<ExpRunResult> {
  const root = findProject(cwd)
  const project = requireProjectId(root)
  await registerProject(c.store, root)
  const base = await headCommit(root)
  // everything that can be wrong with the request is found before the workspace changes
  const sets = (options.set ?? []).map(parseParamSet)
  const name = options.name ?? generateName((n) => c.records.get(project, c.peerId, n) != null)
  checkName(c, project, name)
  requireProjectPipeline(root)
  await applyParamSets(root, sets)

  const patchBytes = await trackedChanges(root, base)
  const patch = patchBytes.length > 0 ? { cid: await storePatch(c.store, patchBytes, name), size: patchBytes.length } : undefined
  const started = Date.now()
  const draft: Omit<ExpRecord, 'sig'> = {
    v: 1,
    project,
    author: c.peerId,
    name,
    state: 'running',
    base,
    ...(patch != null ? { patch } : {}),
    params: await readParamsDiff(root, base),
    metrics: [],
    locks: [],
    ranOn: {},
    startedAt: new Date(started).toISOString(),
    durationMs: 0,
    at: new Date(started).toISOString()
  }
  await publish(c, draft)

  let outcomes: StageOutcome[] = []
  let failure: unknown
  try {
    // read again: a template may use the params just set
    outcomes = await reproduce(c, root, requireProjectPipeline(root), { signal: options.signal, onEvent: options.onEvent })
  } catch (err) {
    failure = err
  }
  const reason = failureReason(failure, outcomes)
  const record = await publish(c, {
    ...draft,
    state: reason != null ? 'failed' : 'done',
    metrics: safeMetrics(root),
    ...lockState(root),
    durationMs: Date.now() - started,
    at: laterThan(draft.at),
    ...(reason != null ? { reason } : {})
  })
  if (failure != null) throw failure
  return { record, outcomes }
}

/** Why a run failed, in one line, or undefined when it did not: the error that stopped it, or the first stage that failed or was blocked. */
export function failureReason (failure: unknown, outcomes: StageOutcome[]): string | undefined {
  if (failure != null) return oneLineReason(failure instanceof Error ? `${failure.name}: ${failure.message.split('\n')[0]}` : String(failure))
  const bad = outcomes.find((o) => o.status === 'failed' || o.status === 'blocked')
  return bad != null ? oneLineReason(`stage '${bad.stage}' ${bad.status}${bad.reasons.length > 0 ? `: ${bad.reasons[0]}` : ''}`) : undefined
}

/** Refuses a malformed name, or one this machine already uses in the project (a removed one may be reused). */
export function checkName (c: ExpComponents, project: string, name: string): void {
  if (name.length > MAX_NAME_LENGTH || !EXP_NAME_PATTERN.test(name)) throw new ExpError(`'${name}' is not an experiment name: up to ${MAX_NAME_LENGTH} letters, digits, '.', '_' and '-', starting with a letter or digit`)
  const existing = c.records.get(project, c.peerId, name)
  if (existing != null && existing.state !== 'removed') throw new ExpError(`an experiment named '${name}' exists already: choose another name, or \`mlp exp remove ${name}\` first`)
}

/** Signs, keeps and pushes a record to the connected teammates (in the background: a slow peer must not hold the run). */
export async function publish (c: ExpComponents, draft: Omit<ExpRecord, 'sig'>): Promise<ExpRecord> {
  // what every teammate would refuse is not signed
  let problem = recordProblem({ ...draft, sig: '' })
  if (problem != null && (draft.state === 'done' || draft.state === 'failed')) {
    // the run's results hold text teammates refuse (a metric key with a control character): it ends failed, without them, never left `running`
    draft = { ...draft, state: 'failed', metrics: [], locks: [], ranOn: {}, reason: oneLineReason(`its results cannot be shared with teammates (${problem})`) }
    problem = recordProblem({ ...draft, sig: '' })
  }
  // the params file may hold a key `-S` did not set and could not check
  if (problem != null) throw new ExpError(`this experiment cannot be recorded: its teammates would refuse the record (${problem}); fix what it names in the params files`)
  const record = await signRecord(draft, c.privateKey)
  const outcome = await c.records.put(record)
  if (outcome === 'full') throw new ExpError('this machine keeps too many experiments of this project: `mlp exp remove` some first')
  void c.sync.syncAll(false)
  return record
}

/** An ISO time after `iso`, even within the same millisecond: a newer version of a record must sort after the older. */
export function laterThan (iso: string): string {
  const now = Date.now()
  return new Date(Math.max(now, Date.parse(iso) + 1)).toISOString()
}

/** The workspace's metrics, or none when they cannot be read. */
export function safeMetrics (root: string): ExpRecord['metrics'] {
  try {
    return readMetrics(root)
  } catch {
    // a failed run may leave no metrics file, or a broken one: the record says failed either way
    return []
  }
}

/** Every pipeline file's lock, as text, and where each stage ran. */
export function lockState (root: string): { locks: ExpLock[], ranOn: Record<string, string> } {
  const locks: ExpLock[] = []
  const ranOn: Record<string, string> = {}
  for (const unit of requireProjectPipeline(root).units) {
    if (!existsSync(unit.lockFile)) continue
    locks.push({ path: relative(root, unit.lockFile), text: readFileSync(unit.lockFile, 'utf8') })
    const prefix = relative(root, unit.file).includes('/') ? `${relative(root, unit.file)}:` : ''
    for (const [stage, entry] of Object.entries(readLock(unit.lockFile).stages)) {
      const peer = ranOnPeer(entry.ran_on)
      if (peer != null) ranOn[`${prefix}${stage}`] = peer
    }
  }
  return { locks, ranOn }
}
