import { mkdir } from 'node:fs/promises'
import { join } from 'node:path'
import { Blockstore } from './blockstore.js'
import { Exporter } from './exporter.js'
import { Importer } from './importer.js'
import { IndexDb } from './index-db.js'
import { RwLock } from './lock.js'
import { Packs } from './packs.js'
import { Pins } from './pins.js'
import { RootSources } from './root-sources.js'

/** The opened block store and the services built on it. */
export interface Store {
  index: IndexDb
  packs: Packs
  blockstore: Blockstore
  importer: Importer
  exporter: Exporter
  /** Explicit pins: roots gc keeps whatever the projects say. */
  pins: Pins
  /** What the layers above register to name the DAGs they use; gc asks each (see store/gc.ts). */
  roots: RootSources
  /** Shared by operations that read or add blocks; gc takes it exclusively. */
  lock: RwLock
  /** A file rewritten to read the file-system clock (see store/fs-clock.ts): stat-cache entries are dated by it. */
  clock: string
  close: () => Promise<void>
}

/** Opens (creating if needed) the store under `dir`: `dir/index` (LevelDB) and `dir/packs`. */
export async function openStore (dir: string): Promise<Store> {
  await mkdir(dir, { recursive: true, mode: 0o700 })
  const index = new IndexDb(join(dir, 'index'))
  await index.open()
  const packs = new Packs(join(dir, 'packs'))
  try {
    await packs.open()
  } catch (err) {
    await index.close()
    throw err
  }
  const blockstore = new Blockstore(index, packs)
  return {
    index,
    packs,
    blockstore,
    importer: new Importer({ blockstore, index, clock: join(dir, 'clock') }),
    exporter: new Exporter(blockstore),
    pins: new Pins(index),
    roots: new RootSources(),
    lock: new RwLock(),
    clock: join(dir, 'clock'),
    close: async () => {
      try {
        await blockstore.commit()
        await packs.close()
      } finally {
        await index.close()
      }
    }
  }
}
