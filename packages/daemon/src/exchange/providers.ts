import type { PeerId } from '@libp2p/interface'
import { CID } from 'multiformats/cid'
import type { Logger } from '../logger.js'
import type { MlpNode } from '../net/node.js'
import type { Store } from '../store/index.js'
import { deadline } from '../deadline.js'

/** How long one DHT provide or lookup may take. */
const DHT_TIMEOUT_MS = 10_000

/** Components of {@link Providers}. */
export interface ProvidersComponents {
  node: MlpNode
  store: Store
  log: Logger
  /** Roots published with `mlp share`: the only ones announced. */
  shared: () => Iterable<string>
  isShared: (cid: string) => boolean
}

/**
 * Provider records in the LAN DHT for the roots published with `mlp share`,
 * and only those: the DHT is open to strangers, and a record says what this
 * daemon holds. Roots fetched, pushed or replicated are pinned but never
 * announced; teammates learn of them by asking (`Has`). The DHT re-provides
 * shared roots while the daemon runs; they are announced again at start, and
 * one that is unshared or removed by gc is withdrawn. Lookups find holders
 * that are not connected yet.
 */
export class Providers {
  private readonly provided = new Set<string>()
  private stopped = false

  constructor (private readonly c: ProvidersComponents) {}

  /** Announces every shared root (each provide runs in the background). */
  start (): void {
    for (const cid of this.c.shared()) {
      try {
        this.announce(CID.parse(cid))
      } catch (err) {
        this.c.log.warn('not announcing a shared root that does not parse', { cid, error: (err as Error).message })
      }
    }
  }

  stop (): void {
    this.stopped = true
  }

  /**
   * Starts providing `cid` if it is shared (returns at once; the DHT query
   * runs behind). Anything else is ignored, whoever asks: fetch, push and
   * remote execution call this for what they pin, and that stays private.
   */
  announce (cid: CID): void {
    const key = cid.toString()
    if (!this.c.isShared(key) || this.provided.has(key) || this.stopped) return
    this.provided.add(key)
    this.c.node.contentRouting.provide(cid, { signal: deadline(DHT_TIMEOUT_MS) })
      .then(() => { this.c.log.debug('provided', { cid: key }) })
      .catch((err: Error) => { this.c.log.debug('provide incomplete (few DHT peers yet)', { cid: key, error: err.message }) })
  }

  /**
   * Stops re-providing `cid` (after `mlp unshare`). Records already stored
   * by DHT peers expire on their own: the DHT has no way to recall them.
   */
  async withdraw (cid: CID): Promise<void> {
    const key = cid.toString()
    if (!this.provided.delete(key)) return
    await this.c.node.contentRouting.cancelReprovide(cid).catch(() => {})
  }

  /** Stops providing roots that are no longer in the store (after gc). */
  async withdrawMissing (): Promise<number> {
    let n = 0
    for (const key of [...this.provided]) {
      const cid = CID.parse(key)
      if (await this.c.store.blockstore.has(cid)) continue
      this.provided.delete(key)
      await this.c.node.contentRouting.cancelReprovide(cid).catch(() => {})
      n++
    }
    return n
  }

  /** Holders of `cid` found through the DHT, dialed so they can be asked directly. */
  async find (cid: CID, signal?: AbortSignal): Promise<string[]> {
    const self = this.c.node.peerId.toString()
    const found: string[] = []
    const timeout = deadline(DHT_TIMEOUT_MS, signal)
    try {
      for await (const p of this.c.node.contentRouting.findProviders(cid, { signal: timeout })) {
        const id = p.id.toString()
        if (id === self || found.includes(id)) continue
        try {
          await this.c.node.dial(p.multiaddrs.length > 0 ? p.multiaddrs : (p.id as PeerId), { signal: timeout })
          found.push(id)
        } catch (err) {
          this.c.log.debug('cannot dial provider from the DHT', { peer: id, error: (err as Error).message })
        }
        if (found.length >= 8) break
      }
    } catch (err) {
      this.c.log.debug('DHT lookup ended', { cid: cid.toString(), error: (err as Error).message })
    }
    return found
  }
}
