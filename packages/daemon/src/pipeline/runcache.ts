import { createHash } from 'node:crypto'
import type { LockedPath } from './lock.js'
import type { Store } from '../store/index.js'

/** What the run cache remembers for a stage key. */
export interface RunCacheEntry {
  outs: LockedPath[]
  ranOn: string
  at: string
}

/**
 * The stage key: a hash of the expanded command, each dep's path and content
 * id, the param values and the declared outs. Same key, same outputs (for a
 * deterministic command): the run can be skipped and its outputs reused.
 */
export function stageKey (cmd: string[], deps: LockedPath[], params: Record<string, Record<string, unknown>>, outs: string[]): string {
  const canonical = JSON.stringify({
    cmd,
    deps: deps.map((d) => [d.path, d.cid]).sort(),
    params: Object.keys(params).sort().map((f) => [f, Object.keys(params[f]).sort().map((k) => [k, params[f][k]])]),
    outs: [...outs].sort()
  })
  return createHash('sha256').update(canonical).digest('hex')
}

/** The local run cache, in the store's LevelDB. */
export class RunCache {
  private readonly db

  constructor (store: Store) {
    this.db = store.index.db.sublevel<string, RunCacheEntry>('r', { keyEncoding: 'utf8', valueEncoding: 'json' })
  }

  async get (key: string): Promise<RunCacheEntry | undefined> {
    return await this.db.get(key)
  }

  async put (key: string, entry: RunCacheEntry): Promise<void> {
    await this.db.put(key, entry)
  }
}
