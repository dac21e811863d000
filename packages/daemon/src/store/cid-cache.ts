import { CID } from 'multiformats/cid'

/** Most parsed ids {@link parseCidCached} keeps (about 400 bytes each). */
export const CID_CACHE_ENTRIES = 20_000

const parsed = new Map<string, CID>()

/**
 * `CID.parse` of an id string, kept for the next ask. Every `mlp status`
 * parses the id of each unchanged file from its stat-cache entry: for
 * 10,000 files that was a tenth of its CPU and a fifth of its allocations,
 * for the same strings each time. CIDs are immutable, so one object serves
 * every caller. The oldest entry goes first once the cache is full.
 */
export function parseCidCached (text: string): CID {
  let cid = parsed.get(text)
  if (cid == null) {
    // only parsed ids are kept: their bytes are their own. An id computed
    // by an add may view a larger buffer, and keeping 10,000 of those held
    // about 30 MB more after a 10,000-file add (measured)
    cid = CID.parse(text)
    parsed.set(text, cid)
    if (parsed.size > CID_CACHE_ENTRIES) parsed.delete(parsed.keys().next().value as string)
  }
  return cid
}
