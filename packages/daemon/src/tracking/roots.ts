import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { CID } from 'multiformats/cid'
import type { Logger } from '../logger.js'
import type { Store } from '../store/index.js'
import { findPointers } from './discover.js'
import { readPointer } from './pointers.js'
import { PROJECT_DIR } from './project.js'

/** Records a project so its pointer files count as gc roots. */
export async function registerProject (store: Store, root: string): Promise<void> {
  await store.index.projects.put(root, { root, registeredAt: new Date().toISOString() })
}

/**
 * Every gc root: the outs of every pointer file of every registered project,
 * plus explicit pins. A project whose folder is gone is unregistered. A
 * malformed pointer file stops gc rather than letting it free what that
 * pointer may reference.
 */
export async function collectRoots (store: Store, log: Logger, signal?: AbortSignal): Promise<CID[]> {
  const roots: CID[] = []
  for await (const root of store.index.projects.keys()) {
    if (!existsSync(join(root, PROJECT_DIR))) {
      log.info('unregistering project that no longer exists', { root })
      await store.index.projects.del(root)
      continue
    }
    for (const pointer of await findPointers(root, signal)) {
      const p = await readPointer(pointer)
      for (const o of p.outs) roots.push(CID.parse(o.cid))
    }
  }
  for await (const pin of store.index.pins.values()) roots.push(CID.parse(pin.cid))
  return roots
}
