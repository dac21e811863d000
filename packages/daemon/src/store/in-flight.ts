import type { CID } from 'multiformats/cid'

/** Roots of operations in progress, per blockstore (one store per daemon, but tests open several). */
const inFlight = new WeakMap<object, Map<string, { cid: CID, count: number }>>()

/**
 * Marks `root` as in use by an operation that writes its blocks without
 * holding the store lock throughout (a fetch waits on the network between
 * writes). gc counts it as a root until the returned function is called, so
 * what the operation already stored is kept: a fetch stores a node before
 * its children, so everything it wrote is reachable from its root.
 */
export function protectRoot (store: object, root: CID): () => void {
  const roots = inFlight.get(store) ?? new Map<string, { cid: CID, count: number }>()
  inFlight.set(store, roots)
  const key = root.toString()
  const entry = roots.get(key) ?? { cid: root, count: 0 }
  entry.count++
  roots.set(key, entry)
  let released = false
  return () => {
    if (released) return
    released = true
    if (--entry.count === 0) roots.delete(key)
  }
}

/**
 * {@link protectRoot} for several roots at once (the outs of one add or one
 * stage); the returned function releases them all.
 */
export function protectRoots (store: object, roots: CID[]): () => void {
  const releases = roots.map((r) => protectRoot(store, r))
  return () => { for (const release of releases) release() }
}

/**
 * Roots protected with {@link protectRoot} right now. gc reads them before
 * it reads pointer, lock and pin roots: an operation releases its protection
 * only after recording its root, so whichever read comes first, the other
 * one sees the root.
 */
export function protectedRoots (store: object): CID[] {
  return [...(inFlight.get(store)?.values() ?? [])].map((e) => e.cid)
}
