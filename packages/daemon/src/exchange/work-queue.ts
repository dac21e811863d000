import type { CID } from 'multiformats/cid'

interface Range {
  start: number
  end: number
}

/**
 * The blocks of one wave of a fetch, split Syncthing-style: each peer first
 * works through its own contiguous range, then helps with the rest by taking
 * from the far end of the largest range left. Blocks a peer failed to give
 * (missing, lied about, or lost with the peer) go to a retry list that
 * remembers who not to ask again.
 */
export class WorkQueue {
  private readonly ranges = new Map<string, Range>()
  private readonly retry: Array<{ cid: CID, excluded: Set<string> }> = []

  constructor (private readonly items: CID[], peers: string[]) {
    const per = Math.ceil(items.length / Math.max(peers.length, 1))
    peers.forEach((peer, i) => {
      this.ranges.set(peer, { start: Math.min(i * per, items.length), end: Math.min((i + 1) * per, items.length) })
    })
  }

  /**
   * Up to `n` blocks for `peer` to ask for: retries first, then its own
   * range; only when `idle` (nothing in flight) does it help with others'
   * ranges, so a peer that starts first cannot grab everyone's work.
   */
  take (peer: string, n: number, idle = true): CID[] {
    const out: CID[] = []
    for (let i = 0; i < this.retry.length && out.length < n;) {
      if (this.retry[i].excluded.has(peer)) {
        i++
        continue
      }
      out.push(this.retry[i].cid)
      this.retry.splice(i, 1)
    }
    const own = this.ranges.get(peer) ?? { start: 0, end: 0 }
    while (own.start < own.end && out.length < n) out.push(this.items[own.start++])
    if (!idle) return out
    while (out.length < n) {
      let largest: Range | undefined
      for (const r of this.ranges.values()) if (r.end - r.start > (largest == null ? 0 : largest.end - largest.start)) largest = r
      if (largest == null) break
      // steal from the far end, away from where the owner is working
      const count = Math.min(n - out.length, Math.ceil((largest.end - largest.start) / 2))
      for (let k = 0; k < count; k++) out.push(this.items[--largest.end])
    }
    return out
  }

  /**
   * Puts blocks back for any peer but `excluded`: the peer that said it does
   * not have them, or lied about them. Blocks lost with a peer that failed
   * (a timeout, a closed stream) come back with no one excluded: that peer
   * still has them, and its failure count decides whether it is asked again.
   */
  giveBack (cids: CID[], excluded?: string): void {
    for (const cid of cids) {
      const existing = this.retry.find((r) => r.cid.equals(cid))
      if (existing != null) {
        if (excluded != null) existing.excluded.add(excluded)
      } else {
        this.retry.push({ cid, excluded: new Set(excluded == null ? [] : [excluded]) })
      }
    }
  }

  /**
   * Lets every peer be asked again for blocks it said it lacked: a peer that
   * is itself fetching the same data (it holds the root, so it counts as a
   * provider) may have them by now.
   */
  forgetMissing (): void {
    for (const r of this.retry) r.excluded.clear()
  }

  /** Blocks not yet handed to any peer. */
  remaining (): number {
    let n = this.retry.length
    for (const r of this.ranges.values()) n += r.end - r.start
    return n
  }

  /** A block every one of `peers` failed to give, if any. */
  unservable (peers: string[]): CID | undefined {
    return this.retry.find((r) => peers.every((p) => r.excluded.has(p)))?.cid
  }
}
