import type { CID } from 'multiformats/cid'
import type { Store } from '../store/index.js'

/** Keeps a DAG from gc whatever the projects' pointer files say (shared, fetched, replicas). */
export async function pin (store: Store, cid: CID, reason: string): Promise<void> {
  await store.index.pins.put(cid.toString(), { cid: cid.toString(), reason, at: new Date().toISOString() })
}
