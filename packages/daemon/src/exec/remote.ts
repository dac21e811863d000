import { randomUUID } from 'node:crypto'
import { peerIdFromString } from '@libp2p/peer-id'
import { DialError, MAX_FRAME_BYTES, MsgType, NoEligiblePeerError, NotTrustedError, type Resources } from '@mlp/proto'
import type { Logger } from '../logger.js'
import type { MlpNode } from '../net/node.js'
import { channel } from '../net/streams.js'
import type { JobTable } from './jobs.js'
import type { LogLine } from './local.js'
import type { TrustGrants } from '../trust/grants.js'
import type { SignedResult } from '../trust/results.js'
import { EXEC_PROTOCOL, RESOURCES_PROTOCOL, type ExecEvent, type ExecRequest, type JobSpec, type SlurmRun } from './protocol.js'
import { GpuHolds } from './gpu-holds.js'
import { describeResources, fittingGpus, satisfies } from './resources.js'
import { checkResult } from './result-check.js'
import { deadline } from '../deadline.js'

/** How long a peer may take to say what it offers. */
const RESOURCES_TIMEOUT_MS = 2_000

/** Components of {@link RemoteExec}. */
export interface RemoteExecComponents {
  node: MlpNode
  log: Logger
  jobs: JobTable
  resources: () => Promise<Resources>
  /** Who may run our stages: peers granted `--results` here. */
  trust: TrustGrants
}

/** What a stage asks for. */
export interface Want {
  gpu: number
  gpuMemoryMib?: number
  gpuModel?: string
  runOn?: string
  /** Simulated GPUs (`executor.simulatedGpus`) count only with this (`mlp repro --simulated-gpus`). */
  allowSimulated?: boolean
  /** Only asking where it would go (`mlp repro --dry`): nothing is held on the peer chosen. */
  dry?: boolean
}

/** The outcome of a remote job. */
export type RemoteResult =
  | { ok: true, result: SignedResult, peer: string, slurm?: SlurmRun }
  | { ok: false, message: string, stderrTail?: string[] }

/**
 * The requester side of remote execution: learns what peers offer, picks
 * where a stage runs (only peers granted `--results` here), sends it, relays
 * its output live, and collects the result, checked and signed.
 */
export class RemoteExec {
  /** Open exec streams per executor, so revoking its `--results` grant ends them. */
  private readonly live = new Map<string, Set<(err: Error) => void>>()
  /** GPUs our stages hold on each peer, placed or running: placement counts them taken before the peer's report does. */
  private readonly holds = new GpuHolds()

  constructor (private readonly c: RemoteExecComponents) {
    c.trust.onRevoke((peer, lost) => {
      if (!lost.has('results')) return
      for (const end of this.live.get(peer) ?? []) end(new Error(`${peer} is no longer trusted with --results here`))
    })
  }

  /** What a connected peer offers, or undefined if it does not answer in time. */
  async peerResources (peer: string, signal?: AbortSignal): Promise<Resources | undefined> {
    const timeout = deadline(RESOURCES_TIMEOUT_MS, signal)
    try {
      const stream = await this.c.node.dialProtocol(peerIdFromString(peer), RESOURCES_PROTOCOL, { signal: timeout })
      const ch = channel(stream, { maxFrameBytes: MAX_FRAME_BYTES })
      await ch.send({ type: MsgType.Json, req: 1, json: '{}' })
      const { value } = await ch.messages().next()
      await ch.close()
      return value?.type === MsgType.Json ? JSON.parse(value.json) as Resources : undefined
    } catch {
      return undefined
    }
  }

  /**
   * Where a stage runs: `local` when this machine has what it asks (and no
   * `run_on`), else the eligible peers granted `--results` here, best first:
   * free ones first (fitting GPUs beyond those our stages hold there), then
   * most free GPU memory, fewest jobs. The first is held for the stage until
   * its job ends, so stages placed together spread over the free peers.
   * None: an error naming what was
   * asked, what each trusted peer offers, which untrusted ones could, and
   * the two ways out (`mlp trust add <peer> --results`, `mlp repro --local`).
   */
  async place (want: Want, signal?: AbortSignal): Promise<'local' | string[]> {
    const self = this.c.node.peerId.toString()
    if (want.runOn == null || want.runOn === self) {
      if (want.runOn === self || satisfies(await this.c.resources(), want, want.allowSimulated).ok) return 'local'
    }
    const peers = want.runOn != null ? [want.runOn] : this.c.node.getPeers().map((p) => p.toString())
    const offers = await Promise.all(peers.map(async (p) => ({ peer: p, trusted: this.c.trust.has(p, 'results'), r: await this.peerResources(p, signal) })))
    const able = offers.filter((o) => o.r != null && satisfies(o.r, want, want.allowSimulated).ok) as Array<{ peer: string, trusted: boolean, r: Resources }>
    const eligible = able.filter((o) => o.trusted)
    if (eligible.length === 0) {
      const asked = `gpu: ${want.gpu}${want.gpuMemoryMib != null ? `, gpu_memory_mib: ${want.gpuMemoryMib}` : ''}${want.gpuModel != null ? `, gpu_model: ${want.gpuModel}` : ''}${want.runOn != null ? `, run_on: ${want.runOn}` : ''}`
      const local = describeResources(await this.c.resources())
      const others = offers.filter((o) => o.trusted).map((o) => `${o.peer}: ${o.r == null ? `no answer (peers tell their resources to teammates only: \`mlp trust add ${self} --run\` there)` : describeResources(o.r)}`)
      const untrusted = able.filter((o) => !o.trusted).map((o) => o.peer)
      const hint = untrusted.length > 0
        ? `; ${untrusted.join(', ')} could run it but ${untrusted.length > 1 ? 'are' : 'is'} not trusted with --results here: run \`mlp trust add ${untrusted[0]} --results\` to send stages there, or \`mlp repro --local\` to run it here`
        : '; to send stages to a peer run `mlp trust add <peerId> --results` here (and `mlp trust add <this peer id> --run` there), or `mlp repro --local` to run it here'
      // simulated GPUs would fit but the requester did not opt in: say how, so a tutorial user is not stuck
      const simulated = want.allowSimulated !== true && offers.some((o) => o.trusted && o.r != null && satisfies(o.r, want, true).ok)
      const simHint = simulated ? '; trusted peers have only simulated GPUs for it: `mlp repro --simulated-gpus` runs it there (no real GPU)' : ''
      throw new NoEligiblePeerError(`no machine can run a stage asking for ${asked}; this machine: ${local}${others.length > 0 ? `; trusted peers: ${others.join('; ')}` : '; no peer trusted with --results connected'}${simHint}${hint}`)
    }
    const freeMem = (r: Resources): number => Math.max(...r.gpus.map((g) => g.memoryFreeMib))
    const free = (o: { peer: string, r: Resources }): number => want.gpu > 0 && fittingGpus(o.r, want, want.allowSimulated).length - this.holds.held(o.peer) >= want.gpu ? 1 : 0
    // sorted and held in one synchronous step: a placement resuming next sees this one's hold
    const best = eligible.sort((a, b) => free(b) - free(a) || freeMem(b.r) - freeMem(a.r) || (a.r.runningJobs + a.r.queuedJobs) - (b.r.runningJobs + b.r.queuedJobs)).map((o) => o.peer)
    if (want.dry !== true) this.holds.place(best[0], want.gpu)
    return best
  }

  /** A fresh job id. */
  newId (): string {
    return randomUUID()
  }

  /**
   * Runs `spec` on `peer`, relaying its log lines; resolves with its outs or
   * why it failed. When `signal` aborts (the user's Ctrl-C) the job goes on
   * on the executor, so this daemon stays on its stream, detached from the
   * caller, and the job table follows the executor to its final state
   * (`mlp cancel` still reaches it); only the caller stops waiting.
   */
  async run (peer: string, spec: JobSpec, onLine: (l: LogLine) => void, signal?: AbortSignal): Promise<RemoteResult> {
    const rec = this.c.jobs.add({ id: spec.id, stage: spec.stage, role: 'requester', peer, state: 'queued', gpus: [], startedAt: new Date().toISOString() })
    this.holds.start(peer, spec.id, spec.gpu)
    let stream
    try {
      stream = await this.c.node.dialProtocol(peerIdFromString(peer), EXEC_PROTOCOL, { signal })
    } catch (err) {
      this.holds.end(peer, spec.id)
      this.c.jobs.finish(rec, 'failed', (err as Error).message)
      throw new DialError(`cannot reach ${peer} to run stage '${spec.stage}': ${(err as Error).message}`, { cause: err })
    }
    const ch = channel(stream, { maxFrameBytes: MAX_FRAME_BYTES })
    const end = (err: Error): void => { ch.abort(err) }
    const ends = this.live.get(peer) ?? new Set()
    this.live.set(peer, ends.add(end))
    let detached = false
    const follow = (async (): Promise<RemoteResult> => {
      try {
        await ch.send({ type: MsgType.Json, req: 0, json: JSON.stringify({ op: 'run', spec } satisfies ExecRequest) })
        for await (const msg of ch.messages()) {
          if (msg.type !== MsgType.Json) continue
          const e = JSON.parse(msg.json) as ExecEvent
          if (e.event === 'refused') {
            this.c.jobs.finish(rec, 'failed', e.message)
            throw new NotTrustedError(e.message)
          }
          if (e.event === 'started') {
            rec.info.state = 'running'
            rec.info.gpus = e.gpus
          } else if (e.event === 'log') {
            this.c.jobs.log(rec, { stream: e.stream, line: e.line })
            if (!detached) onLine({ stream: e.stream, line: e.line })
          } else if (e.event === 'done') {
            let result: SignedResult
            try {
              result = await checkResult(spec, peer, { outs: e.outs, ranOn: e.ranOn, at: e.at, sig: e.sig }, (p) => this.c.trust.has(p, 'results'))
            } catch (err) {
              this.c.jobs.finish(rec, 'failed', (err as Error).message)
              return { ok: false, message: (err as Error).message }
            }
            // detached: the executor's run cache has the result; the next `mlp repro` restores it from there
            this.c.jobs.finish(rec, 'done', detached ? `finished on ${peer} after the requester stopped waiting; \`mlp repro\` restores its outputs from there` : undefined)
            // the Slurm job id is not signed: it is only where the run happened, kept only when well formed
            const slurm = e.slurm != null && /^\d{1,20}$/.test(String(e.slurm.jobId)) && /^[A-Za-z0-9_.-]{1,64}$/.test(String(e.slurm.partition)) ? { jobId: e.slurm.jobId, partition: e.slurm.partition } : undefined
            return { ok: true, result, peer, ...(slurm != null ? { slurm } : {}) }
          } else if (e.event === 'failed' || e.event === 'cancelled') {
            const message = e.event === 'failed' ? e.message : `job ${spec.id} was cancelled on ${peer}`
            this.c.jobs.finish(rec, e.event === 'failed' ? 'failed' : 'cancelled', message)
            return { ok: false, message, stderrTail: e.event === 'failed' ? e.stderrTail : undefined }
          }
        }
        throw new Error('the stream closed before the job finished')
      } catch (err) {
        if (err instanceof NotTrustedError) throw err
        const message = `executor ${peer} went away during job ${spec.id} (stage '${spec.stage}'): ${(err as Error).message}`
        this.c.jobs.finish(rec, 'failed', message)
        return { ok: false, message }
      } finally {
        this.holds.end(peer, spec.id)
        ends.delete(end)
        if (ends.size === 0) this.live.delete(peer)
      }
    })()
    if (signal == null) return await follow
    let onAbort = (): void => {}
    const aborted = new Promise<never>((resolve, reject) => {
      onAbort = () => { reject(signal.reason) }
      if (signal.aborted) onAbort()
      else signal.addEventListener('abort', onAbort, { once: true })
    })
    try {
      return await Promise.race([follow, aborted])
    } catch (err) {
      if (!signal.aborted) throw err
      detached = true
      this.c.log.info('requester stopped waiting; following the job on its executor', { job: spec.id, stage: spec.stage, peer })
      // the detached follow settles on its own; nobody awaits it any more
      follow.catch(() => {})
      throw err
    } finally {
      signal.removeEventListener('abort', onAbort)
    }
  }

  /** Asks the executor of one of our jobs to kill it. */
  async cancel (peer: string, id: string): Promise<boolean> {
    const stream = await this.c.node.dialProtocol(peerIdFromString(peer), EXEC_PROTOCOL)
    const ch = channel(stream, { maxFrameBytes: MAX_FRAME_BYTES })
    await ch.send({ type: MsgType.Json, req: 0, json: JSON.stringify({ op: 'cancel', id } satisfies ExecRequest) })
    const { value } = await ch.messages().next()
    await ch.close()
    return value?.type === MsgType.Json && (JSON.parse(value.json) as ExecEvent).event === 'cancelled'
  }
}
