import type { CID } from 'multiformats/cid'

/** `cids` without repeats (a DAG may hold the same block twice, a root may be listed twice), in order. */
export function uniqueCids (cids: CID[]): CID[] {
  const seen = new Set<string>()
  return cids.filter((cid) => {
    const key = cid.toString()
    if (seen.has(key)) return false
    seen.add(key)
    return true
  })
}
