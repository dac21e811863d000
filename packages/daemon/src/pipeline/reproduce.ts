import { existsSync } from 'node:fs'
import { mkdir, rm } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { NotTrustedError, StageFailedError, type ReproProgress, type ReproRequest, type StageOutcome } from '@mlp/proto'
import { CID } from 'multiformats/cid'
import type { GpuAllocator } from '../exec/jobs.js'
import type { RemoteExec } from '../exec/remote.js'
import type { SlurmRun } from '../exec/protocol.js'
import { runCommand } from '../exec/local.js'
import type { Logger } from '../logger.js'
import type { Store } from '../store/index.js'
import { protectRoots } from '../store/in-flight.js'
import { checkoutOut } from '../tracking/checkout.js'
import { ignoreInGit } from '../tracking/gitignore.js'
import { checkRelativePath } from '../store/path-rules.js'
import { removeInside } from '../tracking/safe-write.js'
import { buildGraph, rootPath, selectStages, type StageGraph } from './graph.js'
import { durationSeconds, readLock, writeLock, type LockEntry, type LockFile, type LockedPath } from './lock.js'
import type { ProjectPipeline } from './project-pipeline.js'
import { RunCache, type RunCacheEntry } from './runcache.js'
import { dryPlacement } from './dry-placement.js'
import type { Stage } from './schema.js'
import { complete, projectPath, stageState, storePath, type StageState } from './state.js'

/** What happened to one stage (the API's own type). */
export type { StageOutcome }

/** Events streamed while reproducing (the API's own type). */
export type ReproEvent = ReproProgress

/** Options of {@link reproduce}: the API request's, plus what only the daemon has. */
export interface ReproOptions extends Omit<ReproRequest, 'cwd'> {
  signal?: AbortSignal
  onEvent?: (e: ReproEvent) => void
}

/** Asks peers for a stage key; resolves the outs and who had them, with the DAGs fetched. */
export type PeerRunCache = (key: string, signal?: AbortSignal) => Promise<{ entry: RunCacheEntry, peer: string } | undefined>

/** Components of {@link reproduce}. */
export interface ReproComponents {
  store: Store
  log: Logger
  runCache: RunCache
  peerId: string
  /** Peers' run caches; absent: local only. */
  peers?: PeerRunCache
  /** Remote execution: where stages with `resources` or `run_on` go. */
  remote?: RemoteExec
  /** This machine's GPUs, one job each. */
  gpus?: GpuAllocator
  /** Fetches a DAG from peers into the store (outs of remote stages). */
  fetch?: (cid: CID, signal?: AbortSignal) => Promise<void>
}

/**
 * `mlp repro`: runs the selected stages in dependency order, `jobs` at a time
 * where independent. A stage runs only if its lock entry differs from what it
 * would run with now (cmd, deps' ids, params, outs), and not even then if the
 * run cache (this daemon's, then its peers') already has outputs for exactly
 * these inputs. Each pipeline file's lock (beside it) is rewritten after
 * every stage of that file, so a failure or Ctrl-C leaves the locks
 * describing exactly the stages that completed. The stages of all the
 * project's pipeline files form one graph (see `loadProjectPipeline`).
 */
export async function reproduce (c: ReproComponents, root: string, pipeline: ProjectPipeline, options: ReproOptions = {}): Promise<StageOutcome[]> {
  // a dry run lists every stage, marking deps nobody can provide, instead of stopping at the first
  const graph = buildGraph(pipeline.stages, pipeline.file, root, options.dry === true)
  const selected = options.targets != null && options.targets.length > 0 ? selectStages(graph, options.targets, options.downstream === true, options.singleItem === true) : new Set(graph.order)
  // one lock per pipeline file, keyed by the stage's name inside that file, as DVC keeps dvc.lock
  const locks = new Map<string, LockFile>(pipeline.units.map((u) => [u.lockFile, readLock(u.lockFile)]))
  const lockOf = (name: string): { lockFile: string, lock: LockFile, key: string } => {
    const { unit, local } = pipeline.unitOf.get(name) as { unit: { lockFile: string }, local: string }
    return { lockFile: unit.lockFile, lock: locks.get(unit.lockFile) as LockFile, key: local }
  }
  const byName = new Map(pipeline.stages.map((s) => [s.name, s]))
  const outcomes = new Map<string, StageOutcome>()
  let lockWrites: Promise<void> = Promise.resolve()
  const saveLock = async (name: string): Promise<void> => {
    const { lockFile, lock } = lockOf(name)
    const order = graph.order.filter((n) => lockOf(n).lockFile === lockFile).map((n) => lockOf(n).key)
    lockWrites = lockWrites.then(async () => { await writeLock(lockFile, lock, order) })
    await lockWrites
  }
  // what this run stores or fetches stays protected from gc until the lock naming it is written (released at the end)
  const held: Array<() => void> = []
  const protect: Protect = (cids) => { held.push(protectRoots(c.store.blockstore, cids.map((x) => CID.parse(x)))) }
  const emit = (o: StageOutcome): void => {
    outcomes.set(o.stage, o)
    options.onEvent?.({ name: 'pipeline:stage', detail: { stage: o.stage, status: o.status, reasons: o.reasons, from: o.from } })
  }

  const runOne = async (stage: Stage): Promise<void> => {
    const failedUp = (graph.upstream.get(stage.name) ?? []).filter((u) => ['failed', 'blocked'].includes(outcomes.get(u)?.status ?? ''))
    if (failedUp.length > 0) return emit({ stage: stage.name, status: 'blocked', reasons: [`upstream failed: ${failedUp.join(', ')}`] })
    if (stage.frozen) return emit({ stage: stage.name, status: 'frozen', reasons: [] })
    const own = lockOf(stage.name)
    const state = await stageState(c.store, root, stage, own.lock.stages[own.key], options.signal)
    if (options.dry === true) return emit(await dryPlacement(c.remote, stage, dryOutcome(stage, state, graph, outcomes, options.force === true), options))
    const missingDep = state.reasons.find((r) => r.startsWith('dep missing'))
    if (missingDep != null) return emit({ stage: stage.name, status: 'failed', reasons: [missingDep] })
    if (state.reasons.length === 0 && options.force !== true) return emit({ stage: stage.name, status: 'skipped', reasons: [] })
    const reasons = options.force === true && state.reasons.length === 0 ? ['forced'] : state.reasons
    if (options.force !== true && options.runCache !== false && !stage.alwaysChanged) {
      const restored = await restore(c, root, stage, state, protect, options.signal)
      if (restored != null) {
        // who ran it originally, and whose cache gave it; no duration: the signed entry does not carry one
        own.lock.stages[own.key] = { ...entry(stage, state, restored.entry.outs, restored.entry.ranOn), restored_from: restored.from === LOCAL_RUN_CACHE ? c.peerId : restored.from }
        await saveLock(stage.name)
        return emit({ stage: stage.name, status: 'restored', reasons, from: restored.from })
      }
    }
    options.onEvent?.({ name: 'pipeline:stage', detail: { stage: stage.name, status: 'running', reasons } })
    const started = performance.now()
    const result = await execute(c, root, stage, state, options, protect)
    const took = durationSeconds(performance.now() - started)
    if (result.failed != null) return emit({ stage: stage.name, status: 'failed', reasons: [result.failed], stderrTail: result.stderrTail })
    // a Slurm executor's job id goes into the lock beside the peer: the cluster's own records find the run by it
    own.lock.stages[own.key] = entry(stage, state, result.outs, result.slurm != null ? { peer: result.ranOn ?? c.peerId, slurm_job: result.slurm.jobId, partition: result.slurm.partition } : result.ranOn ?? c.peerId)
    own.lock.stages[own.key].duration_s = took
    await saveLock(stage.name)
    // a peer's result is kept as it signed it (teammates may get it relayed); our own run is signed here
    if (result.signed != null) await c.runCache.put(state.key, result.signed)
    else await c.runCache.putOwn(state.key, result.outs.filter((o) => stage.outs.find((x) => rootPath(stage, x.path) === o.path)?.cache !== false))
    emit({ stage: stage.name, status: 'ran', reasons, from: result.ranOn })
  }

  // a small scheduler: start every stage whose upstream is settled, `jobs` at a time
  const order = graph.order.filter((n) => selected.has(n))
  const jobs = Math.max(1, options.jobs ?? 1)
  const running = new Map<string, Promise<void>>()
  const pending = [...order]
  let stop = false
  try {
    while ((pending.length > 0 || running.size > 0)) {
      options.signal?.throwIfAborted()
      const ready = stop ? [] : pending.filter((n) => (graph.upstream.get(n) ?? []).every((u) => !selected.has(u) || outcomes.has(u)))
      for (const name of ready) {
        if (running.size >= jobs) break
        pending.splice(pending.indexOf(name), 1)
        running.set(name, runOne(byName.get(name) as Stage).finally(() => { running.delete(name) }))
      }
      if (running.size === 0) break
      await Promise.race(running.values())
      if (options.keepGoing !== true && [...outcomes.values()].some((o) => o.status === 'failed')) stop = true
    }
    for (const name of pending) if (!outcomes.has(name)) emit({ stage: name, status: 'blocked', reasons: ['not started: an earlier stage failed'] })
    await lockWrites
  } finally {
    // the lock written (or the run abandoned): what it names is a root now
    await lockWrites.catch(() => {})
    for (const release of held) release()
  }
  const failed = [...outcomes.values()].find((o) => o.status === 'failed')
  const list = order.map((n) => outcomes.get(n) as StageOutcome)
  if (failed != null) {
    const tail = failed.stderrTail != null && failed.stderrTail.length > 0 ? `; last stderr: ${failed.stderrTail.slice(-5).join(' | ')}` : ''
    throw Object.assign(new StageFailedError(`stage '${failed.stage}' failed: ${failed.reasons.join(', ')}${tail}`), { outcomes: list })
  }
  return list
}

/**
 * What `repro --dry` says of a stage: it would run when its own inputs
 * changed, when forced, or when a stage upstream would run (its deps would
 * change then); a dep that is missing and that no stage writes is marked, as
 * the real run would stop there.
 */
function dryOutcome (stage: Stage, state: StageState, graph: StageGraph, outcomes: Map<string, StageOutcome>, force: boolean): StageOutcome {
  const unprovided = new Set(graph.missing.get(stage.name) ?? [])
  const reasons = state.reasons.map((r) => r.startsWith('dep missing: ') && unprovided.has(r.slice('dep missing: '.length)) ? `dep missing and no stage writes it: ${r.slice('dep missing: '.length)}` : r)
  const ups = (graph.upstream.get(stage.name) ?? []).filter((u) => outcomes.get(u)?.status === 'would-run')
  if (ups.length > 0) reasons.push(`upstream would run: ${ups.join(', ')}`)
  if (reasons.length === 0 && force) reasons.push('forced')
  return { stage: stage.name, status: reasons.length > 0 ? 'would-run' : 'skipped', reasons }
}

/** `from` of a stage restored from this daemon's own run cache. */
const LOCAL_RUN_CACHE = 'local run cache'

/** Protects content ids from gc for the rest of a `reproduce` call. */
type Protect = (cids: string[]) => void

/** Stores a workspace path under the store lock, protected before the lock is let go. */
async function storeProtected (store: Store, root: string, path: string, cache: boolean, protect: Protect, signal?: AbortSignal): Promise<LockedPath> {
  return await store.lock.read(async () => {
    const o = await storePath(store, root, path, cache, signal)
    protect([o.cid])
    return o
  })
}

function entry (stage: Stage, state: StageState, outs: LockedPath[], ranOn: NonNullable<LockEntry['ran_on']>): LockEntry {
  return { cmd: stage.cmd.length === 1 ? stage.cmd[0] : stage.cmd, deps: state.deps, params: state.params, outs, ran_on: ranOn }
}

async function restore (c: ReproComponents, root: string, stage: Stage, state: StageState, protect: Protect, signal?: AbortSignal): Promise<{ entry: RunCacheEntry, from: string } | undefined> {
  let found: { entry: RunCacheEntry, from: string } | undefined
  // believed only while signed by this machine or a peer still trusted with --results
  const local = await c.runCache.believed(state.key)
  // protected before checking: a gc between the check and the lock write must not take them
  if (local != null) protect(local.outs.map((o) => o.cid))
  if (local != null && (await Promise.all(local.outs.map(async (o) => await complete(c.store, o.cid)))).every(Boolean)) found = { entry: local, from: LOCAL_RUN_CACHE }
  if (found == null && c.peers != null) {
    const remote = await c.peers(state.key, signal).catch((err: Error) => {
      c.log.warn('run cache query failed', { stage: stage.name, error: err.message })
      return undefined
    })
    if (remote != null) found = { entry: remote.entry, from: remote.peer }
  }
  if (found == null) return undefined
  protect(found.entry.outs.map((o) => o.cid))
  // every declared cached out must be in the entry, or it is not a match
  const cached = stage.outs.filter((o) => o.cache).map((o) => rootPath(stage, o.path))
  if (!cached.every((p) => found?.entry.outs.some((o) => o.path === p))) return undefined
  // only the outs this stage declares, whatever the entry (maybe a peer's) says
  const outs = found.entry.outs.filter((o) => cached.includes(o.path))
  await checkoutOuts(c.store, root, outs, signal)
  // kept whole, as signed (a subset would not verify); the lock gets only the declared outs
  await c.runCache.put(state.key, found.entry)
  return { entry: { ...found.entry, outs }, from: found.from }
}

/**
 * Writes outs from the store into the workspace, replacing what is there,
 * through the safe writer: an out path that is not a plain path inside the
 * project is refused, and nothing behind a symlink is removed or written.
 */
async function checkoutOuts (store: Store, root: string, outs: LockedPath[], signal?: AbortSignal): Promise<void> {
  for (const o of outs) {
    // the paths may come from a peer's run-cache entry or job result
    checkRelativePath(o.path)
    const abs = join(root, o.path)
    await removeInside(root, abs)
    await checkoutOut(store, root, abs, CID.parse(o.cid), { force: true, signal })
  }
}

async function execute (c: ReproComponents, root: string, stage: Stage, state: StageState, options: ReproOptions, protect: Protect): Promise<{ outs: LockedPath[], failed?: string, stderrTail?: string[], ranOn?: string, slurm?: SlurmRun, signed?: RunCacheEntry }> {
  const want = stage.resources ?? (stage.runOn != null ? { gpu: 0 } : undefined)
  if (want != null && options.local !== true && c.remote != null) {
    const placement = await c.remote.place({ ...want, runOn: stage.runOn, allowSimulated: options.simulatedGpus === true }, options.signal)
    if (placement !== 'local') return await executeRemote(c, root, stage, state, placement, options, protect)
  }
  const gpus = await c.gpus?.acquire(Math.min(stage.resources?.gpu ?? 0, c.gpus.total), options.signal) ?? []
  try {
    return await executeLocal(c, root, stage, gpus, options, protect)
  } finally {
    c.gpus?.release(gpus)
  }
}

/** Sends a stage to the first of `peers` that accepts it, relays its log, and brings its outs back. */
async function executeRemote (c: ReproComponents, root: string, stage: Stage, state: StageState, peers: string[], options: ReproOptions, protect: Protect): Promise<{ outs: LockedPath[], failed?: string, stderrTail?: string[], ranOn?: string, slurm?: SlurmRun, signed?: RunCacheEntry }> {
  const remote = c.remote as RemoteExec
  // inputs travel as content ids: deps and params files go into the store first
  const inputs: Array<{ path: string, cid: string }> = []
  const paths = [...stage.deps.map((d) => rootPath(stage, d)), ...stage.params.map((p) => rootPath(stage, p.file))]
  for (const path of [...new Set(paths)]) {
    // checked again here, just before the bytes leave this machine
    if (!existsSync(projectPath(root, path, `stage '${stage.name}': input`))) continue
    inputs.push(await storeProtected(c.store, root, path, true, protect, options.signal))
  }
  await c.store.blockstore.commit()
  const spec = {
    id: remote.newId(),
    stage: stage.name,
    cmd: stage.cmd,
    wdir: stage.wdir,
    inputs: inputs.map((i) => ({ path: i.path, cid: i.cid })),
    outs: stage.outs.map((o) => ({ path: rootPath(stage, o.path), cache: o.cache })),
    gpu: stage.resources?.gpu ?? 0,
    gpuMemoryMib: stage.resources?.gpuMemoryMib,
    gpuModel: stage.resources?.gpuModel,
    cpus: stage.resources?.cpus,
    memoryMib: stage.resources?.memoryMib,
    time: stage.resources?.time,
    // what the key hashes, so the executor can recompute it before signing a result under it
    deps: state.deps.map((d) => ({ path: d.path, cid: d.cid })),
    params: state.params,
    key: state.key
  }
  const refusals: string[] = []
  for (const peer of peers) {
    let result
    try {
      options.onEvent?.({ name: 'exec:log', detail: { stage: stage.name, stream: 'stderr', line: `running on ${peer} as job ${spec.id}` } })
      // the CLI names the job and its peer if the user stops waiting (Ctrl-C): the job goes on there
      options.onEvent?.({ name: 'exec:job', detail: { stage: stage.name, peer, job: spec.id } })
      result = await remote.run(peer, spec, (l) => { options.onEvent?.({ name: 'exec:log', detail: { stage: stage.name, ...l } }) }, options.signal)
    } catch (err) {
      if ((err as Error).name !== 'NotTrustedError') throw err
      refusals.push((err as Error).message)
      continue
    }
    // RemoteExec.run has checked the result: exactly the declared outs, signed by a --results peer
    if (!result.ok) return { outs: [], failed: result.message, stderrTail: result.stderrTail }
    const outs = result.result.outs
    protect(outs.map((o) => o.cid))
    for (const o of outs) await c.fetch?.(CID.parse(o.cid), options.signal)
    const cached = outs.filter((o) => stage.outs.find((x) => rootPath(stage, x.path) === o.path)?.cache !== false)
    await checkoutOuts(c.store, root, cached, options.signal)
    for (const o of cached) await ignoreInGit(join(root, o.path))
    return { outs, ranOn: result.peer, slurm: result.slurm, signed: result.result }
  }
  throw new NotTrustedError(refusals.join('; '))
}

async function executeLocal (c: ReproComponents, root: string, stage: Stage, gpus: number[], options: ReproOptions, protect: Protect): Promise<{ outs: LockedPath[], failed?: string, stderrTail?: string[], ranOn?: string, slurm?: SlurmRun, signed?: RunCacheEntry }> {
  for (const o of stage.outs) {
    // like DVC: outs are removed before the run unless `persist: true`
    if (!o.persist) await rm(join(root, rootPath(stage, o.path)), { recursive: true, force: true })
    await mkdir(dirname(join(root, rootPath(stage, o.path))), { recursive: true })
  }
  const env = { ...process.env, MLP_EXECUTOR_PEER_ID: c.peerId, MLP_STAGE: stage.name, ...(stage.resources != null && stage.resources.gpu > 0 ? { CUDA_VISIBLE_DEVICES: gpus.join(',') } : {}) }
  for (const cmd of stage.cmd) {
    const r = await runCommand(cmd, {
      cwd: join(root, stage.wdir),
      env,
      signal: options.signal,
      onLine: (l) => { options.onEvent?.({ name: 'exec:log', detail: { stage: stage.name, ...l } }) }
    })
    if (r.code !== 0) return { outs: [], failed: `command exited with code ${r.code}: ${cmd}`, stderrTail: r.stderrTail }
  }
  const outs: LockedPath[] = []
  for (const o of stage.outs) {
    const path = rootPath(stage, o.path)
    const abs = projectPath(root, path, `stage '${stage.name}': out`)
    if (!existsSync(abs)) return { outs: [], failed: `the command did not write its out '${path}'` }
    outs.push(await storeProtected(c.store, root, path, o.cache, protect, options.signal))
    // like DVC: git tracks the lock, not the outputs
    if (o.cache) await ignoreInGit(abs)
  }
  await c.store.blockstore.commit()
  return { outs }
}
