import type { CID } from 'multiformats/cid'

/**
 * Roots of operations in progress in one store (each {@link Blockstore}
 * holds its own): an add, fetch or repro writes blocks without holding the
 * store lock throughout, and records its root (pointer, lock, pin) only at
 * the end. gc counts these as roots meanwhile; see store/gc.ts.
 */
export class InFlightRoots {
  private readonly roots = new Map<string, { cid: CID, count: number }>()

  /** Counts `root` as a root until the returned function is called (once is enough; more calls do nothing). */
  protect (root: CID): () => void {
    const key = root.toString()
    const entry = this.roots.get(key) ?? { cid: root, count: 0 }
    entry.count++
    this.roots.set(key, entry)
    let released = false
    return () => {
      if (released) return
      released = true
      if (--entry.count === 0 && this.roots.get(key) === entry) this.roots.delete(key)
    }
  }

  /** The roots protected right now. */
  list (): CID[] {
    return [...this.roots.values()].map((e) => e.cid)
  }
}

/** What the functions below need: a store's blockstore, which owns its in-flight roots. */
export interface HasInFlightRoots {
  readonly inFlight: InFlightRoots
}

/**
 * Marks `root` as in use by an operation that writes its blocks without
 * holding the store lock throughout (a fetch waits on the network between
 * writes). gc counts it as a root until the returned function is called, so
 * what the operation already stored is kept: a fetch stores a node before
 * its children, so everything it wrote is reachable from its root.
 */
export function protectRoot (store: HasInFlightRoots, root: CID): () => void {
  return store.inFlight.protect(root)
}

/**
 * {@link protectRoot} for several roots at once (the outs of one add or one
 * stage); the returned function releases them all.
 */
export function protectRoots (store: HasInFlightRoots, roots: CID[]): () => void {
  const releases = roots.map((r) => protectRoot(store, r))
  return () => { for (const release of releases) release() }
}

/**
 * Roots protected with {@link protectRoot} right now. gc reads them before
 * it reads pointer, lock and pin roots: an operation releases its protection
 * only after recording its root, so whichever read comes first, the other
 * one sees the root.
 */
export function protectedRoots (store: HasInFlightRoots): CID[] {
  return store.inFlight.list()
}
