import type { Connection, PeerId, Stream } from '@libp2p/interface'
import { peerIdFromString } from '@libp2p/peer-id'
import { MAX_FRAME_BYTES, MsgType, type ExpRecord } from '@mlp/proto'
import type { Logger } from '../logger.js'
import type { MlpNode } from '../net/node.js'
import { channel, type Channel } from '../net/streams.js'
import { EXP_PROTOCOL, MAX_SYNC_MESSAGES, SYNC_BATCH_BYTES, SYNC_TIMEOUT_MS } from './constants.js'
import { verifyRecord } from './record.js'
import type { ExpRecords } from './records.js'

/** Components of {@link ExpSync}. */
export interface ExpSyncComponents {
  node: MlpNode
  records: ExpRecords
  log: Logger
  /** Whether `peer` is a teammate (trust/team-policy.ts): records go to and come from teammates only. */
  isTeammate: (peer: string) => boolean
}

/** One message of the sync protocol: a batch of records, or the end of the sender's records. */
type SyncMessage = { op: 'records', records: unknown[] } | { op: 'end', want: boolean }

/** What one sync with a peer did. */
export interface SyncCount {
  /** Records stored here (new or newer). */
  stored: number
  /** Records refused: malformed, a bad signature, an author who is not a teammate, or over a cap. */
  refused: number
}

/**
 * Syncs experiment records with teammates over {@link EXP_PROTOCOL}, directly
 * (not a pubsub topic a stranger could subscribe to): each side sends every
 * record it keeps, in batches, then `end` (asking, or not, for the other
 * side's records). Run when a teammate connects, after a record is made or
 * removed here, and before `mlp exp show`. A stranger's stream is cut
 * before anything is read or sent; every record received is verified
 * against its author's key, and kept only if the author is this daemon or
 * a teammate.
 */
export class ExpSync {
  private readonly onConnect = (evt: CustomEvent<PeerId>): void => {
    const peer = evt.detail.toString()
    if (!this.c.isTeammate(peer)) return
    this.sync(peer, true).catch((err: Error) => { this.c.log.debug('experiment sync on connect failed', { peer, error: err.message }) })
  }

  constructor (private readonly c: ExpSyncComponents) {}

  async start (): Promise<void> {
    await this.c.node.handle(EXP_PROTOCOL, async (stream: Stream, connection: Connection) => {
      await this.serve(stream, connection.remotePeer.toString())
    }, { maxInboundStreams: 16 })
    this.c.node.addEventListener('peer:connect', this.onConnect)
  }

  async stop (): Promise<void> {
    this.c.node.removeEventListener('peer:connect', this.onConnect)
    await this.c.node.unhandle(EXP_PROTOCOL)
  }

  /** Whether records by `author` are shown and passed on: this daemon's own, or a teammate's (a peer removed from the team is no longer one). */
  trusts (author: string): boolean {
    return author === this.c.node.peerId.toString() || this.c.isTeammate(author)
  }

  /** Connected teammates. */
  teammates (): string[] {
    return this.c.node.getPeers().map((p) => p.toString()).filter((p) => this.c.isTeammate(p))
  }

  /** Sends every record to every connected teammate; with `want`, takes theirs too. Failures are logged, not thrown. */
  async syncAll (want: boolean, signal?: AbortSignal): Promise<SyncCount> {
    const counts = await Promise.all(this.teammates().map(async (peer) => {
      try {
        return await this.sync(peer, want, signal)
      } catch (err) {
        this.c.log.debug('experiment sync failed', { peer, error: (err as Error).message })
        return { stored: 0, refused: 0 }
      }
    }))
    return counts.reduce((a, b) => ({ stored: a.stored + b.stored, refused: a.refused + b.refused }), { stored: 0, refused: 0 })
  }

  /** One sync with `peer`, which must be a teammate. */
  async sync (peer: string, want: boolean, signal?: AbortSignal): Promise<SyncCount> {
    if (!this.c.isTeammate(peer)) throw new Error(`${peer} is not a teammate: experiment records are not sent to it`)
    const timeout = AbortSignal.any([AbortSignal.timeout(SYNC_TIMEOUT_MS), ...(signal != null ? [signal] : [])])
    const stream = await this.c.node.dialProtocol(peerIdFromString(peer), EXP_PROTOCOL, { signal: timeout })
    const ch = channel(stream, { maxFrameBytes: MAX_FRAME_BYTES, idleTimeoutMs: SYNC_TIMEOUT_MS })
    const onAbort = (): void => { ch.abort(new Error('experiment sync timed out')) }
    timeout.addEventListener('abort', onAbort, { once: true })
    try {
      await this.sendAll(ch, want)
      const count = want ? await this.receive(ch, peer) : { stored: 0, refused: 0 }
      await ch.close()
      return count
    } finally {
      timeout.removeEventListener('abort', onAbort)
    }
  }

  private async serve (stream: Stream, peer: string): Promise<void> {
    const ch = channel(stream, { maxFrameBytes: MAX_FRAME_BYTES, idleTimeoutMs: SYNC_TIMEOUT_MS })
    // a stranger learns nothing, not even whether we keep records
    if (!this.c.isTeammate(peer)) {
      ch.abort(new Error('experiment records are for teammates only'))
      return
    }
    try {
      let want = false
      const count = await this.receive(ch, peer, (w) => { want = w })
      if (count.stored > 0 || count.refused > 0) this.c.log.info('experiment records received', { peer, ...count })
      if (want) await this.sendAll(ch, false)
      await ch.close()
    } catch (err) {
      ch.abort(err as Error)
    }
  }

  /** Sends every record kept here in batches, then `end`. */
  private async sendAll (ch: Channel, want: boolean): Promise<void> {
    let batch: ExpRecord[] = []
    let bytes = 0
    const flush = async (): Promise<void> => {
      if (batch.length > 0) await send(ch, { op: 'records', records: batch })
      batch = []
      bytes = 0
    }
    for (const r of this.c.records.all()) {
      if (!this.trusts(r.author)) continue
      const size = Buffer.byteLength(JSON.stringify(r))
      if (bytes + size > SYNC_BATCH_BYTES) await flush()
      batch.push(r)
      bytes += size
    }
    await flush()
    await send(ch, { op: 'end', want })
  }

  /** Reads batches until `end`, keeping the records that verify. */
  private async receive (ch: Channel, peer: string, onEnd?: (want: boolean) => void): Promise<SyncCount> {
    const count = { stored: 0, refused: 0 }
    let messages = 0
    for await (const msg of ch.messages()) {
      if (++messages > MAX_SYNC_MESSAGES) throw new Error('too many messages in one experiment sync')
      if (msg.type !== MsgType.Json) throw new Error('expected a JSON message')
      const m = JSON.parse(msg.json) as SyncMessage
      if (m?.op === 'end') {
        onEnd?.(m.want === true)
        return count
      }
      if (m?.op !== 'records' || !Array.isArray(m.records)) throw new Error('malformed experiment sync message')
      for (const r of m.records) {
        const got = await this.accept(r, peer)
        if (got === 'stored') count.stored++
        else if (got === 'refused') count.refused++
      }
    }
    throw new Error('experiment sync ended without its end message')
  }

  /** Verifies one record from `peer` and keeps it if it is newer than what is kept; a refusal is logged. */
  private async accept (r: unknown, peer: string): Promise<'stored' | 'known' | 'refused'> {
    const problem = await verifyRecord(r)
    if (problem != null) {
      this.c.log.warn('refused an experiment record', { peer, problem })
      return 'refused'
    }
    const rec = r as ExpRecord
    if (!this.trusts(rec.author)) {
      this.c.log.warn('refused an experiment record: its author is not a teammate', { peer, author: rec.author })
      return 'refused'
    }
    const outcome = await this.c.records.put(rec)
    if (outcome === 'full') {
      this.c.log.warn('refused an experiment record: its author is over the caps', { peer, author: rec.author, project: rec.project })
      return 'refused'
    }
    return outcome === 'stored' ? 'stored' : 'known'
  }
}

async function send (ch: Channel, m: SyncMessage): Promise<void> {
  await ch.send({ type: MsgType.Json, req: 0, json: JSON.stringify(m) })
}
