import * as dagPb from '@ipld/dag-pb'
import { WireError } from '@mlp/proto'
import type { CID } from 'multiformats/cid'
import { DAG_PB_CODEC } from '../store/constants.js'

/**
 * Links a stranger may have outstanding (linked from blocks served to it, not
 * asked for yet). A fetcher holds as many ids in its own queue; the cap
 * bounds what a stranger that only asks for nodes can make us hold (~100 MB).
 */
export const MAX_PENDING_LINKS = 1 << 20
/** Blocks served to a stranger that it may ask for again (a retry after a failed stream). */
export const RECENT_SERVED = 1 << 16

/**
 * What one stranger may ask for: a shared root, or a block linked from a
 * block already served to it. So a stranger
 * walks down from what was shared and can never name its way into data that
 * was only added, fetched or pushed, even a block whose id it knows.
 *
 * Grants are per peer (the exchange keeps a bounded number of strangers'
 * scopes), not per stream: the fetcher opens a stream per wave of a fetch,
 * and a fetcher restarted mid-fetch resumes on a new connection. A grant is
 * used up when the block is served (what is held is the frontier of the
 * stranger's walk, not every id it ever got), and the last
 * {@link RECENT_SERVED} blocks served may be asked for again.
 */
export class StrangerScope {
  private readonly pending = new Map<string, number>()
  private readonly recent = new Set<string>()

  constructor (private readonly isShared: (cid: string) => boolean) {}

  /** Whether `cid` may be answered (`Has` and `Want` alike). */
  allows (cid: CID): boolean {
    const key = cid.toString()
    return this.pending.has(key) || this.recent.has(key) || this.isShared(key)
  }

  /** Records that `cid` was served: its grant is used, its links are granted. */
  served (cid: CID, bytes: Uint8Array): void {
    const key = cid.toString()
    const left = this.pending.get(key)
    if (left != null) {
      if (left <= 1) this.pending.delete(key)
      else this.pending.set(key, left - 1)
    }
    this.recent.delete(key)
    this.recent.add(key)
    if (this.recent.size > RECENT_SERVED) this.recent.delete(this.recent.values().next().value as string)
    if (cid.code !== DAG_PB_CODEC) return
    // the bytes were verified against their id on read; one that does not decode links to nothing
    let links: dagPb.PBLink[]
    try {
      links = dagPb.decode(bytes).Links
    } catch {
      return
    }
    for (const l of links) {
      const k = l.Hash.toString()
      this.pending.set(k, (this.pending.get(k) ?? 0) + 1)
    }
    if (this.pending.size > MAX_PENDING_LINKS) throw new WireError(`a stranger holds over ${MAX_PENDING_LINKS} links it has not asked for: closing the stream`)
  }
}
