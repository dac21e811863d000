import { ExpError, type ExpRecord, type ExpRunProgress, type ExpRunResult } from '@mlp/proto'
import { stageOutputs } from '../pipeline/lock-outs.js'
import { requireProjectPipeline } from '../pipeline/project-pipeline.js'
import { readParamsDiff } from '../pipeline/read-only.js'
import { reproduce } from '../pipeline/reproduce.js'
import { checkoutOutputs } from '../tracking/checkout.js'
import { requireProjectId } from '../tracking/project-id.js'
import { findProject } from '../tracking/project.js'
import { resolveOutputs } from '../tracking/targets.js'
import type { ExpComponents } from './context.js'
import { git, headCommit, trackedChanges } from './git.js'
import { generateName } from './names.js'
import { fetchPatchBytes, storePatch } from './patch.js'
import { checkName, failureReason, laterThan, lockState, publish, safeMetrics } from './run.js'
import { applyParamSets, parseParamSet } from './set-params.js'
import { withWorktree } from './worktree.js'

/**
 * `mlp exp run --queue`: records a `queued` experiment without running it or
 * touching the workspace. Its changes (the workspace's uncommitted changes
 * to tracked files plus the `-S` params) are made in a scratch worktree of
 * the base commit and stored as its patch.
 */
export async function queueExperiment (c: ExpComponents, cwd: string, options: { set?: string[], name?: string } = {}): Promise<ExpRunResult> {
  const root = findProject(cwd)
  const project = requireProjectId(root)
  const base = await headCommit(root)
  const sets = (options.set ?? []).map(parseParamSet)
  const name = options.name ?? generateName((n) => c.records.get(project, c.peerId, n) != null)
  checkName(c, project, name)
  requireProjectPipeline(root)
  const changes = await trackedChanges(root, base)
  const { patch, params } = await withWorktree(root, base, c.workDir, async (dir) => {
    if (changes.length > 0) await git(dir, ['apply', '-'], { input: changes })
    await applyParamSets(dir, sets)
    return { patch: await trackedChanges(dir, base), params: await readParamsDiff(dir, base) }
  })
  const now = new Date().toISOString()
  const record = await publish(c, {
    v: 1,
    project,
    author: c.peerId,
    name,
    state: 'queued',
    base,
    ...(patch.length > 0 ? { patch: { cid: await storePatch(c.store, patch, name), size: patch.length } } : {}),
    params,
    metrics: [],
    locks: [],
    ranOn: {},
    startedAt: now,
    durationMs: 0,
    at: now
  })
  return { record, outcomes: [] }
}

/** Options of {@link runQueue}. */
export interface RunQueueOptions {
  /** Experiments run at once. Default 1. */
  jobs?: number
  signal?: AbortSignal
  onEvent?: (e: ExpRunProgress) => void
}

/**
 * `mlp exp run --run-all`: runs this machine's queued experiments of the
 * project, `jobs` at a time, each in its own worktree of its base commit
 * with its patch applied (the user's workspace is not touched). Stages go
 * where `mlp repro` sends them (GPU stages to trusted peers). On Ctrl-C no
 * new experiment starts; those not started stay queued.
 */
export async function runQueue (c: ExpComponents, cwd: string, options: RunQueueOptions = {}): Promise<ExpRunResult[]> {
  const root = findProject(cwd)
  const project = requireProjectId(root)
  const queued = c.records.list(project).filter((r) => r.author === c.peerId && r.state === 'queued').sort((a, b) => a.startedAt.localeCompare(b.startedAt))
  if (queued.length === 0) throw new ExpError('no queued experiments: `mlp exp run --queue -S key=value` queues one')
  const results: ExpRunResult[] = []
  let next = 0
  const worker = async (): Promise<void> => {
    while (next < queued.length && options.signal?.aborted !== true) {
      const rec = queued[next++]
      results.push(await runQueued(c, root, rec, options))
    }
  }
  await Promise.all(Array.from({ length: Math.max(1, Math.min(options.jobs ?? 1, queued.length)) }, worker))
  options.signal?.throwIfAborted()
  return results
}

/** Runs one queued experiment in a worktree and records how it went. */
async function runQueued (c: ExpComponents, root: string, rec: ExpRecord, options: RunQueueOptions): Promise<ExpRunResult> {
  const started = Date.now()
  const running = await publish(c, { ...withoutSig(rec), state: 'running', startedAt: new Date(started).toISOString(), at: laterThan(rec.at) })
  return await withWorktree(root, rec.base, c.workDir, async (dir) => {
    let outcomes: ExpRunResult['outcomes'] = []
    let failure: unknown
    try {
      // inside the try: a patch no peer holds fails this experiment, not the record left `running`
      const patch = await fetchPatchBytes(c, rec, options.signal)
      if (patch.length > 0) await git(dir, ['apply', '-'], { input: patch })
      // the data the base's pointer files and lock name, from this store or a peer
      const outs = await resolveOutputs(dir, dir, undefined, stageOutputs(dir), options.signal)
      for (const o of outs) await c.fetch(o.cid, options.signal).catch(() => {})
      await checkoutOutputs(c.store, dir, outs, { signal: options.signal })
      outcomes = await reproduce(c, dir, requireProjectPipeline(dir), { signal: options.signal, onEvent: options.onEvent })
    } catch (err) {
      failure = err
    }
    const reason = failureReason(failure, outcomes)
    const record = await publish(c, { ...withoutSig(running), state: reason != null ? 'failed' : 'done', metrics: safeMetrics(dir), ...safeLockState(dir), durationMs: Date.now() - started, at: laterThan(running.at), ...(reason != null ? { reason } : {}) })
    if (failure != null && (failure as Error).name === 'AbortError') throw failure
    return { record, outcomes }
  })
}

/** The worktree's locks, or none when its pipeline cannot be read (the run failed before it started). */
function safeLockState (dir: string): ReturnType<typeof lockState> {
  try {
    return lockState(dir)
  } catch {
    return { locks: [], ranOn: {} }
  }
}

function withoutSig (r: ExpRecord): Omit<ExpRecord, 'sig'> {
  const { sig: _sig, ...rest } = r
  return rest
}
