import { createHash } from 'node:crypto'
import type { PrivateKey } from '@libp2p/interface'
import { CID } from 'multiformats/cid'
import type { LockedPath } from './lock.js'
import type { Store } from '../store/index.js'
import type { RootSource } from '../store/root-sources.js'
import { believable, isSignedResult, signResult, type SignedResult } from '../trust/results.js'

/** What the run cache remembers for a stage key: outs signed by the machine that ran the stage. */
export type RunCacheEntry = SignedResult

/** What {@link RunCache} signs and judges entries with. */
export interface RunCacheInit {
  /** This daemon's peer id: its own entries are signed as it. */
  self: string
  privateKey: PrivateKey
  /** Whether an entry signed by `signer` is believed here (this machine, or a `--results` peer). */
  trusted: (signer: string) => boolean
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

/** Run-cache entries, by stage key (a store-owned sublevel). */
function entriesDb (store: Store) {
  return store.index.runCache
}

/**
 * When each entry was stored here, by stage key (ms since the epoch). Not the
 * signed `at`: a peer chooses that, and one dated in the future would stay
 * "recent", and its blocks kept from gc, for ever.
 */
function storedAtDb (store: Store) {
  return store.index.runCacheStoredAt
}

/**
 * The out cids of run-cache entries stored here less than `maxAgeMs` ago:
 * gc roots, so a result a stage just produced (or a peer just sent) can be
 * reused by a repro in any project for a while even when no lock file names
 * it any more. Entries stored before their time was recorded are not recent.
 */
export async function recentRunCacheRoots (store: Store, maxAgeMs: number, now = Date.now(), signal?: AbortSignal): Promise<CID[]> {
  if (!(maxAgeMs > 0)) return []
  const entries = entriesDb(store)
  const out: CID[] = []
  for await (const [key, at] of storedAtDb(store).iterator()) {
    signal?.throwIfAborted()
    if (typeof at !== 'number' || now - at >= maxAgeMs) continue
    const entry = await entries.get(key)
    if (!isSignedResult(entry)) continue
    for (const o of entry.outs) {
      try {
        out.push(CID.parse(o.cid))
      } catch {
        // an entry naming no valid cid keeps nothing
      }
    }
  }
  return out
}

/** The name of the run cache's gc root source. */
export const RUN_CACHE_SOURCE = 'run cache'

/**
 * The run cache's gc root source: outs of entries stored less than
 * `maxAgeMs` ago ({@link recentRunCacheRoots}; config key
 * `gcKeepRunCacheDays`), as optional roots: an out with `cache: false` has
 * no blocks. Older entries need no roots: a local entry is used only after
 * checking that every block of its outs is still in the store.
 */
export function runCacheRootSource (store: Store, maxAgeMs: number): RootSource {
  return {
    name: RUN_CACHE_SOURCE,
    roots: async (query) => ({ roots: [], optional: await recentRunCacheRoots(store, maxAgeMs, Date.now(), query.signal) })
  }
}

/**
 * The local run cache, in the store's LevelDB. Every entry is a signed result:
 * of a stage run here (signed with this daemon's key) or of one a peer ran.
 * An entry is believed only while its signature verifies and its signer is
 * trusted; an unsigned entry (written before results were signed, when a
 * peer's answer could poison it) is never believed: the stage runs once more.
 */
export class RunCache {
  private readonly db
  private readonly storedAt

  constructor (private readonly store: Store, private readonly init: RunCacheInit) {
    this.db = entriesDb(store)
    this.storedAt = storedAtDb(store)
  }

  /** Writes an entry and when it was stored here, in one batch. */
  private async write (key: string, entry: RunCacheEntry): Promise<void> {
    await this.store.index.db.batch()
      .put<string, unknown>(key, entry, { sublevel: this.db })
      .put<string, number>(key, Date.now(), { sublevel: this.storedAt })
      .write()
  }

  /** The entry as stored, believed or not: what peers are served (they judge it by their own trust). */
  async get (key: string): Promise<unknown> {
    return await this.db.get(key)
  }

  /** The entry for `key` if it is believed here. */
  async believed (key: string): Promise<RunCacheEntry | undefined> {
    const entry = await this.db.get(key)
    return await this.believes(key, entry) ? entry as RunCacheEntry : undefined
  }

  /** Whether `entry` would be believed as the result of stage `key`. */
  async believes (key: string, entry: unknown): Promise<boolean> {
    return await believable(key, entry, this.init.trusted)
  }

  /** Records the outs of a stage that ran here, signed by this daemon. */
  async putOwn (key: string, outs: LockedPath[]): Promise<RunCacheEntry> {
    const entry = await signResult(key, this.init.privateKey, this.init.self, outs)
    await this.write(key, entry)
    return entry
  }

  /** Records a signed result another machine produced, as signed; one not believed here is not kept. */
  async put (key: string, entry: RunCacheEntry): Promise<boolean> {
    if (!await this.believes(key, entry)) return false
    await this.write(key, entry)
    return true
  }
}
