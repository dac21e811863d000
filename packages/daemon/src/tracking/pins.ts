import type { PinInfo } from '@mlp/proto'
import type { CID } from 'multiformats/cid'
import type { Store } from '../store/index.js'

// Pins are owned by the store (store/pins.ts), which gc reads them from;
// these keep the callers' one-line form.

/** Keeps a DAG from gc whatever the projects' pointer files say (shared, fetched, replicas). */
export async function pin (store: Store, cid: CID, reason: string): Promise<void> {
  await store.pins.pin(cid, reason)
}

/** Every pin (`mlp pins ls`), oldest first. */
export async function listPins (store: Store): Promise<PinInfo[]> {
  return await store.pins.list()
}

/** Drops pins (`mlp pins rm`); every id is checked first, so a typo drops nothing. */
export async function unpin (store: Store, cids: string[]): Promise<PinInfo[]> {
  return await store.pins.unpin(cids)
}
