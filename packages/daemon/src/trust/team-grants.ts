/**
 * Roots this daemon asked a peer to keep a copy of (`mlp push --to`): while
 * the request runs, that peer may read them as if they were shared with it
 * alone, whether or not it is our teammate (it fetches them from us).
 */
export class PushGrants {
  private readonly grants = new Map<string, Map<string, number>>()

  /** Lets `peer` read `roots` until the returned function is called. */
  grant (peer: string, roots: string[]): () => void {
    const held = this.grants.get(peer) ?? new Map<string, number>()
    this.grants.set(peer, held)
    for (const r of roots) held.set(r, (held.get(r) ?? 0) + 1)
    let released = false
    return () => {
      if (released) return
      released = true
      for (const r of roots) {
        const n = (held.get(r) ?? 1) - 1
        if (n <= 0) held.delete(r)
        else held.set(r, n)
      }
      if (held.size === 0 && this.grants.get(peer) === held) this.grants.delete(peer)
    }
  }

  /** Whether `peer` may read the root `cid` (a string as `CID.toString()` gives it). */
  allows (peer: string, cid: string): boolean {
    return this.grants.get(peer)?.has(cid) === true
  }
}
