import { lstatSync, realpathSync } from 'node:fs'
import { mkdir, rm } from 'node:fs/promises'
import { join, normalize, relative, sep, isAbsolute } from 'node:path'
import type { Connection, Stream } from '@libp2p/interface'
import { MAX_FRAME_BYTES, MsgType, UnsafePathError, type Resources } from '@mlp/proto'
import { CID } from 'multiformats/cid'
import type { Exchange } from '../exchange/exchange.js'
import { fetchDag } from '../exchange/fetch.js'
import type { Providers } from '../exchange/providers.js'
import type { Logger } from '../logger.js'
import type { MlpNode } from '../net/node.js'
import { channel } from '../net/streams.js'
import type { RunCache } from '../pipeline/runcache.js'
import type { Store } from '../store/index.js'
import { checkRelativePath } from '../store/path-rules.js'
import { checkParents, writeTreeNew } from '../tracking/safe-write.js'
import type { GpuAllocator, JobTable } from './jobs.js'
import { runCommand } from './local.js'
import { isJobId } from './job-id.js'
import { EXEC_PROTOCOL, RESOURCES_PROTOCOL, type ExecEvent, type ExecRequest, type JobSpec } from './protocol.js'
import type { PrivateKey } from '@libp2p/interface'
import type { TrustGrants } from '../trust/grants.js'
import { signResult } from '../trust/results.js'
import { jobEnv, sandboxFor } from './sandbox.js'
import { specKeyProblem } from './spec-key.js'
import { storeJobOuts } from './job-outs.js'
import { STREAM_IDLE_MS } from '../exchange/constants.js'
import { firstMessage } from '../net/first-message.js'
import { handleRequests } from '../net/request-handler.js'
import type { SlurmExecutor, SlurmJobRecord } from './slurm/executor.js'
import type { JobRecord } from './jobs.js'
import type { LogLine } from './local.js'

/** Components of {@link ExecService}. */
export interface ExecServiceComponents {
  node: MlpNode
  store: Store
  exchange: Exchange
  providers?: Providers
  log: Logger
  /** Who may run stages here: peers granted `--run`. */
  trust: TrustGrants
  /** Signs job results and run-cache entries (the libp2p identity key). */
  privateKey: PrivateKey
  /** `MLP_HOME`: hidden from jobs by the sandbox. */
  home: string
  /** Run peers' jobs under bubblewrap (config `executor: {sandbox}`, default true). */
  sandbox: boolean
  jobs: JobTable
  gpus: GpuAllocator
  runCache: RunCache
  resources: () => Promise<Resources>
  /** Where job working directories go (`MLP_HOME/jobs`). */
  jobsDir: string
  /** Whether `peer` is a teammate (trust/team-policy.ts): only teammates learn this machine's GPUs and jobs. */
  isTeammate: (peer: string) => boolean
  /** Set with `executor: {kind: slurm}`: jobs go to Slurm instead of running here. */
  slurm?: SlurmExecutor
}

/** A path from a job spec that must stay inside the job's directory. */
function safeRelative (path: string): boolean {
  return path !== '' && !isAbsolute(path) && !normalize(path).split(sep).includes('..')
}

/**
 * Makes the directories of `rel` inside `work` (and `rel` itself when
 * `self`), one level at a time, never through a symlink or a file: a job's
 * inputs (or an earlier command of the job) may have put `l -> /elsewhere`
 * there. A problem for the requester, or undefined.
 */
async function makeDirsInside (work: string, rel: string, self: boolean, what: string): Promise<string | undefined> {
  const path = self ? join(work, rel, '.mlp-dir') : join(work, rel)
  if (path === work) return undefined
  try {
    await checkParents(work, path, true)
    return undefined
  } catch (err) {
    if (err instanceof UnsafePathError) return `${what} '${rel}' goes through a symlink or a file in the job directory: refused`
    throw err
  }
}

/**
 * Runs stages for trusted peers: fetches their inputs by content id into a
 * fresh directory, runs the command with the GPUs it assigns (one job per
 * GPU; the rest queue), streams the output back, stores the declared outs
 * and answers with their ids. The result also goes into this daemon's run
 * cache, so a requester that went away can still collect it later.
 */
export class ExecService {
  /** Open exec streams per requester, so `mlp trust rm` ends them at once. */
  private readonly live = new Map<string, Set<(why: string) => void>>()
  /** Set by stop(): a Slurm job is then left in Slurm (not cancelled, its directory kept) for the next start to re-attach to. */
  private stopping = false
  /** Slurm jobs re-attached after a restart, by stage key: a requester sending the same stage again joins the job instead of submitting another. */
  private readonly attached = new Map<string, { peer: string, rec: JobRecord, done: Promise<ExecEvent> }>()

  constructor (private readonly c: ExecServiceComponents) {
    c.trust.onRevoke((peer, lost) => {
      if (!lost.has('run')) return
      const why = `${this.c.node.peerId.toString()} no longer lets ${peer} run stages (mlp trust rm)`
      for (const job of this.c.jobs.list()) {
        if (job.role === 'executor' && job.peer === peer && (job.state === 'running' || job.state === 'queued')) this.c.jobs.get(job.id)?.abort?.abort(new Error(why))
      }
      for (const end of this.live.get(peer) ?? []) end(why)
      this.c.log.warn('ended the jobs and streams of a peer no longer trusted to run stages', { peer })
    })
  }

  async start (): Promise<void> {
    await this.c.node.handle(EXEC_PROTOCOL, async (stream: Stream, connection: Connection) => {
      await this.serve(stream, connection.remotePeer.toString())
    }, { maxInboundStreams: 32 })
    // GPUs, memory and job counts are for teammates (any requester with --run is one); a stranger's stream is cut
    await handleRequests(this.c.node, RESOURCES_PROTOCOL, 32, async (msg, peer) => {
      if (!this.c.isTeammate(peer)) throw new Error('resources are told to teammates only')
      return { type: MsgType.Json, req: msg.req, json: JSON.stringify(await this.c.resources()) }
    })
    if (this.c.slurm != null) for (const r of await this.c.slurm.records()) this.reattach(r)
  }

  async stop (): Promise<void> {
    this.stopping = true
    this.c.slurm?.stop()
    await this.c.node.unhandle(EXEC_PROTOCOL)
    await this.c.node.unhandle(RESOURCES_PROTOCOL)
    for (const job of this.c.jobs.list()) if (job.role === 'executor' && (job.state === 'running' || job.state === 'queued')) this.c.jobs.get(job.id)?.abort?.abort()
  }

  private async serve (stream: Stream, peer: string): Promise<void> {
    const ch = channel(stream, { maxFrameBytes: MAX_FRAME_BYTES })
    let open = true
    const end = (why: string): void => {
      const last = open ? ch.send({ type: MsgType.Json, req: 0, json: JSON.stringify({ event: 'failed', message: why } satisfies ExecEvent) }) : Promise.resolve()
      open = false
      // closed, not reset: a reset could drop the message before the requester reads it
      void last.then(async () => { await ch.close() }).catch(() => { ch.abort(new Error(why)) })
    }
    const ends = this.live.get(peer) ?? new Set()
    this.live.set(peer, ends.add(end))
    const send = async (e: ExecEvent): Promise<void> => {
      if (!open) return
      try {
        await ch.send({ type: MsgType.Json, req: 0, json: JSON.stringify(e) })
      } catch {
        // the requester went away: the job goes on, its result lands in the run cache
        open = false
      }
    }
    try {
      const msg = await firstMessage(ch, STREAM_IDLE_MS)
      if (msg?.type !== MsgType.Json) throw new Error('expected a JSON request')
      const req = JSON.parse(msg.json) as ExecRequest
      if (!this.c.trust.has(peer, 'run')) {
        this.c.log.warn('refused a stage from a peer without --run', { peer })
        const self = this.c.node.peerId.toString()
        await send({ event: 'refused', message: `${self} does not trust ${peer} to run stages there: run \`mlp trust add ${peer} --run\` on ${self} to let it` })
      } else if (req.op === 'cancel') {
        const job = isJobId(req.id) ? this.c.jobs.get(req.id) : undefined
        if (job == null || job.info.peer !== peer) await send({ event: 'failed', message: `no job ${req.id} of yours here` })
        else {
          job.abort?.abort()
          await send({ event: 'cancelled' })
        }
      } else {
        await this.run(req.spec, peer, send)
      }
      if (open) await ch.close()
    } catch (err) {
      this.c.log.warn('exec stream failed', { peer, error: (err as Error).message })
      ch.abort(err as Error)
    } finally {
      ends.delete(end)
      if (ends.size === 0) this.live.delete(peer)
    }
  }

  private async run (spec: JobSpec, peer: string, send: (e: ExecEvent) => Promise<void>): Promise<void> {
    // the id names the job's directory, removed recursively at the end: only ids as daemons make them
    if (!isJobId(spec?.id)) return await send({ event: 'refused', message: 'the job id is not one a daemon makes (a UUID)' })
    for (const p of [...spec.inputs.map((i) => i.path), ...spec.outs.map((o) => o.path), spec.wdir === '.' ? 'x' : spec.wdir]) {
      if (!safeRelative(p)) return await send({ event: 'failed', message: `path '${p}' escapes the job directory` })
    }
    const joined = this.attached.get(spec.key)
    if (joined != null && joined.peer === peer) return await this.join(joined, send)
    const rec = this.c.jobs.add({ id: spec.id, stage: spec.stage, role: 'executor', peer, state: 'queued', gpus: [], startedAt: new Date().toISOString() })
    const abort = new AbortController()
    rec.abort = abort
    const listener = (l: { stream: 'stdout' | 'stderr', line: string } | null): void => { if (l != null) void send({ event: 'log', ...l }) }
    rec.listeners.add(listener)
    const slurm = this.c.slurm
    const work = slurm != null ? slurm.workDir(spec.id) : join(this.c.jobsDir, spec.id)
    let gpus: number[] = []
    try {
      await send({ event: 'queued' })
      // under Slurm, Slurm queues and assigns GPUs: the job is 'running' when Slurm says so
      if (slurm == null) {
        gpus = await this.c.gpus.acquire(spec.gpu, abort.signal)
        rec.info.state = 'running'
        rec.info.gpus = gpus
        await send({ event: 'started', gpus })
        this.c.log.info('job started', { job: spec.id, stage: spec.stage, peer, gpus })
      }
      await mkdir(work, { recursive: true })
      for (const input of spec.inputs) {
        const cid = CID.parse(input.cid)
        await fetchDag(this.c, cid, { signal: abort.signal })
        await this.materialise(cid, work, input.path, abort.signal)
      }
      // the result will be signed under spec.key: it must be this job's key
      const keyProblem = specKeyProblem(spec, work)
      if (keyProblem != null) {
        this.c.jobs.finish(rec, 'failed', keyProblem)
        return await send({ event: 'failed', message: `${this.c.node.peerId.toString()} refused job ${spec.id}: ${keyProblem}` })
      }
      // a peer's code: scrubbed environment, and (unless the config opts out) a sandbox without MLP_HOME
      const env = jobEnv({ jobDir: work, executor: this.c.node.peerId.toString(), stage: spec.stage, gpus })
      // Slurm sets the GPUs it assigns; an empty value here would hide them
      if (slurm != null) delete env.CUDA_VISIBLE_DEVICES
      const cwd = join(work, spec.wdir)
      // the inputs, and each command before the next, may leave symlinks in the job directory: never made through
      const dirs = async (): Promise<string | undefined> => {
        const problems = [await makeDirsInside(work, spec.wdir, true, 'wdir')]
        for (const o of spec.outs) problems.push(await makeDirsInside(work, o.path, false, 'out'))
        return problems.find((p) => p != null)
      }
      const dirProblem = await dirs()
      if (dirProblem != null) {
        this.c.jobs.finish(rec, 'failed', dirProblem)
        return await send({ event: 'failed', message: `${this.c.node.peerId.toString()} refused job ${spec.id}: ${dirProblem}` })
      }
      const launcher = await sandboxFor(this.c.sandbox, { home: this.c.home, jobDir: work, cwd, env })
      let slurmRun: { jobId: string, partition: string } | undefined
      if (slurm != null) {
        const r = await slurm.run({
          spec,
          peer,
          work,
          cwd,
          env,
          launcher,
          signal: abort.signal,
          onLine: (l) => { this.c.jobs.log(rec, l) },
          onQueued: (id, reason) => { this.slurmQueued(rec, id, reason) },
          onRunning: (id) => { void this.slurmRunning(rec, id, send) },
          onSubmitted: (id) => { rec.info.slurmJobId = id },
          leaving: () => this.stopping
        })
        if (r.code !== 0) {
          const message = `command exited with code ${r.code} in Slurm job ${r.slurmJobId} on ${this.c.node.peerId.toString()}`
          this.c.jobs.finish(rec, 'failed', message)
          return await send({ event: 'failed', message, stderrTail: r.stderrTail })
        }
        slurmRun = { jobId: r.slurmJobId, partition: slurm.config.partition }
      }
      for (const cmd of slurm != null ? [] : spec.cmd) {
        const problem = await dirs()
        if (problem != null) {
          this.c.jobs.finish(rec, 'failed', problem)
          return await send({ event: 'failed', message: `${this.c.node.peerId.toString()} refused job ${spec.id}: ${problem}` })
        }
        const r = await runCommand(cmd, { cwd, env, launcher, signal: abort.signal, onLine: (l) => { this.c.jobs.log(rec, l) } })
        if (r.code !== 0) {
          this.c.jobs.finish(rec, 'failed', `command exited with code ${r.code}`)
          return await send({ event: 'failed', message: `command exited with code ${r.code} on ${this.c.node.peerId.toString()}: ${cmd}`, stderrTail: r.stderrTail })
        }
      }
      const collected = await this.collect(spec, work, abort.signal)
      if ('problem' in collected) {
        this.c.jobs.finish(rec, 'failed', collected.problem)
        return await send({ event: 'failed', message: collected.problem })
      }
      this.c.jobs.finish(rec, 'done')
      this.c.log.info('job done', { job: spec.id, stage: spec.stage, peer })
      await send({ event: 'done', ...collected.signed, ...(slurmRun != null ? { slurm: slurmRun } : {}) })
    } catch (err) {
      if (slurm != null && this.stopping && rec.info.slurmJobId != null) {
        // not cancelled: the job goes on in Slurm, and this daemon's next start collects it
        const message = `${this.c.node.peerId.toString()} stopped while Slurm job ${rec.info.slurmJobId} runs: it goes on, and once the daemon is back \`mlp repro\` collects its result`
        this.c.jobs.finish(rec, 'failed', message)
        return await send({ event: 'failed', message })
      }
      const cancelled = abort.signal.aborted
      this.c.jobs.finish(rec, cancelled ? 'cancelled' : 'failed', cancelled && abort.signal.reason instanceof Error ? abort.signal.reason.message : (err as Error).message)
      await send(cancelled ? { event: 'cancelled' } : { event: 'failed', message: `${this.c.node.peerId.toString()}: ${(err as Error).message}` })
    } finally {
      rec.listeners.delete(listener)
      this.c.gpus.release(gpus)
      // a daemon stopping leaves its Slurm jobs, and their directories, for the next start to re-attach to
      if (slurm != null && this.stopping && rec.info.slurmJobId != null) this.c.log.info('left a slurm job running for the next start', { job: spec.id, slurmJobId: rec.info.slurmJobId })
      else if (slurm != null) await slurm.clean(spec.id)
      else await rm(work, { recursive: true, force: true })
    }
  }

  /** Stores the declared outs, signs them under the stage key and puts them in the run cache; or why an out is refused. */
  private async collect (spec: JobSpec, work: string, signal: AbortSignal): Promise<{ signed: Awaited<ReturnType<typeof signResult>> } | { problem: string }> {
    for (const o of spec.outs) {
      const problem = this.checkOut(work, join(work, o.path), o.path)
      if (problem != null) return { problem }
    }
    const { outs, release } = await storeJobOuts(this.c.store, work, spec.outs.map((o) => o.path), signal)
    try {
      // signed once: the requester checks it, and any teammate may relay the same entry from a run cache
      const signed = await signResult(spec.key, this.c.privateKey, this.c.node.peerId.toString(), outs)
      // from here the run cache names the outs (a gc root)
      await this.c.runCache.put(spec.key, signed)
      return { signed }
    } finally {
      release()
    }
  }

  /** Slurm holds the job back: the requester sees why (Slurm's reason, e.g. Resources). */
  private slurmQueued (rec: JobRecord, slurmJobId: string, reason: string): void {
    rec.info.slurmJobId = slurmJobId
    rec.info.state = 'queued'
    this.c.jobs.log(rec, { stream: 'stderr', line: `Slurm job ${slurmJobId} is queued (PENDING${reason !== '' && reason !== 'None' ? `, reason: ${reason}` : ''})` })
  }

  private async slurmRunning (rec: JobRecord, slurmJobId: string, send: (e: ExecEvent) => Promise<void>): Promise<void> {
    rec.info.slurmJobId = slurmJobId
    rec.info.state = 'running'
    this.c.jobs.log(rec, { stream: 'stderr', line: `Slurm job ${slurmJobId} is running` })
    this.c.log.info('job started', { job: rec.info.id, stage: rec.info.stage, peer: rec.info.peer, slurmJobId })
    await send({ event: 'started', gpus: [] })
  }

  /**
   * Follows a Slurm job an earlier run of this daemon submitted, then stores
   * and signs its outs into the run cache, as if its requester were still
   * waiting: the requester's next `mlp repro` finds the result there, or
   * joins this job if it is still running.
   */
  private reattach (r: SlurmJobRecord): void {
    const slurm = this.c.slurm as SlurmExecutor
    const { spec, peer } = r
    const rec = this.c.jobs.add({ id: spec.id, stage: spec.stage, role: 'executor', peer, state: 'queued', gpus: [], startedAt: r.submittedAt, slurmJobId: r.slurmJobId })
    const abort = new AbortController()
    rec.abort = abort
    const self = this.c.node.peerId.toString()
    this.c.log.info('re-attached to a slurm job', { job: spec.id, stage: spec.stage, slurmJobId: r.slurmJobId })
    const work = slurm.workDir(spec.id)
    const done = (async (): Promise<ExecEvent> => {
      try {
        if (!this.c.trust.has(peer, 'run')) throw new Error(`${peer} no longer holds --run here`)
        const res = await slurm.follow(r.slurmJobId, {
          spec,
          peer,
          work,
          cwd: join(work, spec.wdir),
          env: {},
          signal: abort.signal,
          onLine: (l) => { this.c.jobs.log(rec, l) },
          onQueued: (id, reason) => { this.slurmQueued(rec, id, reason) },
          onRunning: (id) => { void this.slurmRunning(rec, id, async () => {}) },
          leaving: () => this.stopping
        })
        if (res.code !== 0) {
          const message = `command exited with code ${res.code} in Slurm job ${r.slurmJobId} on ${self}`
          this.c.jobs.finish(rec, 'failed', message)
          return { event: 'failed', message, stderrTail: res.stderrTail }
        }
        const collected = await this.collect(spec, work, abort.signal)
        if ('problem' in collected) {
          this.c.jobs.finish(rec, 'failed', collected.problem)
          return { event: 'failed', message: collected.problem }
        }
        this.c.jobs.finish(rec, 'done')
        this.c.log.info('re-attached slurm job done', { job: spec.id, slurmJobId: r.slurmJobId })
        return { event: 'done', ...collected.signed, slurm: { jobId: r.slurmJobId, partition: slurm.config.partition } }
      } catch (err) {
        const cancelled = abort.signal.aborted
        const message = cancelled ? `job ${spec.id} was cancelled` : `${self}: ${(err as Error).message}`
        this.c.jobs.finish(rec, cancelled ? 'cancelled' : 'failed', message)
        return cancelled ? { event: 'cancelled' } : { event: 'failed', message }
      } finally {
        if (!this.stopping) await slurm.clean(spec.id)
      }
    })()
    const entry = { peer, rec, done }
    this.attached.set(spec.key, entry)
    void done.finally(() => { if (this.attached.get(spec.key) === entry) this.attached.delete(spec.key) })
  }

  /** A requester sent again a stage whose re-attached Slurm job is under way: it gets that job's output and result. */
  private async join (job: { rec: JobRecord, done: Promise<ExecEvent> }, send: (e: ExecEvent) => Promise<void>): Promise<void> {
    await send({ event: 'queued' })
    for (const l of job.rec.log) await send({ event: 'log', ...l })
    const listener = (l: LogLine | null): void => { if (l != null) void send({ event: 'log', ...l }) }
    job.rec.listeners.add(listener)
    try {
      if (job.rec.info.state === 'running') await send({ event: 'started', gpus: [] })
      await send(await job.done)
    } finally {
      job.rec.listeners.delete(listener)
    }
  }

  /** A declared out must exist and stay inside the job directory, symlinks included. */
  private checkOut (work: string, abs: string, path: string): string | undefined {
    try {
      lstatSync(abs)
    } catch {
      return `the command did not write its out '${path}'`
    }
    const real = realpathSync(abs)
    const rel = relative(realpathSync(work), real)
    if (rel.startsWith('..') || isAbsolute(rel)) return `out '${path}' points outside the job directory`
    return undefined
  }

  /**
   * Writes an input DAG at `path` inside the job directory through the safe
   * writer: the path must be plain and relative, and no symlink an earlier
   * input brought (`lnk -> /etc`, then an input at `lnk/passwd`) is followed.
   */
  private async materialise (cid: CID, work: string, path: string, signal: AbortSignal): Promise<void> {
    checkRelativePath(path)
    await writeTreeNew(this.c.store.exporter, cid, join(work, path), { root: work, signal })
  }
}
