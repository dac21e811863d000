import { InvalidCidError, PinNotFoundError, type PinInfo } from '@mlp/proto'
import { CID } from 'multiformats/cid'
import type { IndexDb } from './index-db.js'

/**
 * Explicit pins, in the store's index: roots gc keeps whatever the projects'
 * pointer files say (fetched, pushed, shared, kept for a teammate). The store
 * owns them so that gc reads them itself, with no source to forget.
 */
export class Pins {
  constructor (private readonly index: IndexDb) {}

  /** Keeps the DAG under `cid` from gc until {@link Pins.unpin}; pinning again updates the reason and time. */
  async pin (cid: CID, reason: string): Promise<void> {
    await this.index.pins.put(cid.toString(), { cid: cid.toString(), reason, at: new Date().toISOString() })
  }

  /** Every pin (`mlp pins ls`), oldest first. */
  async list (): Promise<PinInfo[]> {
    const out: PinInfo[] = []
    for await (const p of this.index.pins.values()) out.push({ cid: p.cid, reason: p.reason, at: p.at })
    return out.sort((a, b) => a.at.localeCompare(b.at))
  }

  /** The pinned roots, for gc and verify. */
  async cids (signal?: AbortSignal): Promise<CID[]> {
    const out: CID[] = []
    for await (const p of this.index.pins.values()) {
      signal?.throwIfAborted()
      out.push(CID.parse(p.cid))
    }
    return out
  }

  /**
   * Drops pins (`mlp pins rm`): their DAGs stay until a gc finds nothing else
   * keeps them. Every id is checked first, so a typo drops nothing.
   */
  async unpin (cids: string[]): Promise<PinInfo[]> {
    if (cids.length === 0) throw new PinNotFoundError('name one or more pinned content ids (`mlp pins ls` lists them)')
    const found: PinInfo[] = []
    for (const text of cids) {
      let key: string
      try {
        key = CID.parse(text.trim()).toString()
      } catch (err) {
        throw new InvalidCidError(`'${text}' is not a content id`, { cause: err })
      }
      const p = await this.index.pins.get(key)
      if (p == null) throw new PinNotFoundError(`${key} is not pinned (\`mlp pins ls\` lists the pins)`)
      found.push({ cid: p.cid, reason: p.reason, at: p.at })
    }
    await this.index.pins.batch(found.map((p) => ({ type: 'del' as const, key: p.cid })))
    return found
  }
}
