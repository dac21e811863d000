import { CID } from 'multiformats/cid'
import { InvalidCidError, PinNotFoundError, type PinInfo } from '@mlp/proto'
import type { Store } from '../store/index.js'

/** Keeps a DAG from gc whatever the projects' pointer files say (shared, fetched, replicas). */
export async function pin (store: Store, cid: CID, reason: string): Promise<void> {
  await store.index.pins.put(cid.toString(), { cid: cid.toString(), reason, at: new Date().toISOString() })
}

/** Every pin (`mlp pins ls`), oldest first. */
export async function listPins (store: Store): Promise<PinInfo[]> {
  const out: PinInfo[] = []
  for await (const p of store.index.pins.values()) out.push({ cid: p.cid, reason: p.reason, at: p.at })
  return out.sort((a, b) => a.at.localeCompare(b.at))
}

/**
 * Drops pins (`mlp pins rm`): their DAGs stay until a gc finds nothing else
 * keeps them. Every id is checked first, so a typo drops nothing.
 */
export async function unpin (store: Store, cids: string[]): Promise<PinInfo[]> {
  if (cids.length === 0) throw new PinNotFoundError('name one or more pinned content ids (`mlp pins ls` lists them)')
  const found: PinInfo[] = []
  for (const text of cids) {
    let key: string
    try {
      key = CID.parse(text.trim()).toString()
    } catch (err) {
      throw new InvalidCidError(`'${text}' is not a content id`, { cause: err })
    }
    const p = await store.index.pins.get(key)
    if (p == null) throw new PinNotFoundError(`${key} is not pinned (\`mlp pins ls\` lists the pins)`)
    found.push({ cid: p.cid, reason: p.reason, at: p.at })
  }
  await store.index.pins.batch(found.map((p) => ({ type: 'del' as const, key: p.cid })))
  return found
}
