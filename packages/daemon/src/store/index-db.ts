import type { GcScope } from '@mlp/proto'
import { ClassicLevel } from 'classic-level'
import type { CID } from 'multiformats/cid'

/** Where a block's bytes are: a pack file, an offset, a length. */
export interface BlockLocation {
  pack: number
  offset: number
  length: number
}

/** What the stat cache remembers about a file it hashed. */
export interface StatEntry {
  dev: number
  ino: number
  size: number
  /** mtime in nanoseconds, as a decimal string (exact, unlike a float of milliseconds). */
  mtimeNs: string
  /** The file's mode bits relevant to its id (0o755 or 0o644). */
  mode: number
  cid: string
  /** Encoded bytes of the file's DAG, needed for the directory link without reading the DAG. */
  tsize: number
  /** When the entry was written, to spot racily-clean files (entries older than `recordedAtNs`). */
  cachedAtMs: number
  /**
   * The file-system clock (store/fs-clock.ts) at a moment the file's content
   * was known to be `cid`: the entry is trusted only for an mtime strictly
   * before it, as git trusts an index entry only when the file is older than
   * the index file.
   */
  recordedAtNs?: string
}

/** A project registered with this daemon: its pointer files are gc roots. */
export interface ProjectEntry {
  root: string
  registeredAt: string
}

/** An explicit pin: a root gc keeps whatever projects say. */
export interface PinEntry {
  cid: string
  reason: string
  at: string
}

/** A project's gc roots as the last gc that could read its folder found them. */
export interface RecordedRootsEntry {
  /** Content ids of its tracked outputs (workspace and history) then. */
  roots: string[]
  /** The scope of the gc that recorded them. */
  scope: GcScope
  /** When (ISO 8601). */
  at: string
}

/** Why a block's index entry was dropped: its bytes at `location` failed verification. */
export interface QuarantineEntry {
  location: BlockLocation
  reason: string
  at: string
}

/** Encodes a location as 16 bytes: pack u32, offset u64 (two u32), length u32. */
export function encodeLocation (loc: BlockLocation): Uint8Array {
  const out = new Uint8Array(16)
  const view = new DataView(out.buffer)
  view.setUint32(0, loc.pack)
  view.setUint32(4, Math.floor(loc.offset / 0x1_0000_0000))
  view.setUint32(8, loc.offset >>> 0)
  view.setUint32(12, loc.length)
  return out
}

/** Inverse of {@link encodeLocation}. */
export function decodeLocation (bytes: Uint8Array): BlockLocation {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  return { pack: view.getUint32(0), offset: view.getUint32(4) * 0x1_0000_0000 + view.getUint32(8), length: view.getUint32(12) }
}

/**
 * The LevelDB index: block locations (cid bytes → location), the stat cache
 * (absolute path → {@link StatEntry}), registered projects, pins,
 * quarantined blocks (cid bytes → {@link QuarantineEntry}), and for the
 * layers above, which never open sublevels themselves: the recorded roots of
 * projects (tracking) and the run cache (pipeline). Block bytes never go in
 * here: 1 MiB LevelDB values were measured at 181 MB/s.
 */
export class IndexDb {
  readonly db: ClassicLevel<string, string>
  readonly blocks
  readonly stats
  readonly projects
  readonly pins
  readonly quarantine
  /** Project root → {@link RecordedRootsEntry}: what keeps a missing project's data until `mlp gc --forget`. */
  readonly recordedRoots
  /** Stage key → run-cache entry (a signed result, judged by the pipeline, so unknown here). */
  readonly runCache
  /** Stage key → when its run-cache entry was stored here (ms since the epoch). */
  readonly runCacheStoredAt
  /** Whether the quarantine may hold entries: only then does a commit clear the entries of blocks it stores again. */
  private quarantineInUse = false

  constructor (location: string) {
    this.db = new ClassicLevel<string, string>(location)
    this.blocks = this.db.sublevel<Uint8Array, Uint8Array>('b', { keyEncoding: 'view', valueEncoding: 'view' })
    this.stats = this.db.sublevel<string, StatEntry>('s', { keyEncoding: 'utf8', valueEncoding: 'json' })
    this.projects = this.db.sublevel<string, ProjectEntry>('p', { keyEncoding: 'utf8', valueEncoding: 'json' })
    this.pins = this.db.sublevel<string, PinEntry>('n', { keyEncoding: 'utf8', valueEncoding: 'json' })
    this.quarantine = this.db.sublevel<Uint8Array, QuarantineEntry>('q', { keyEncoding: 'view', valueEncoding: 'json' })
    this.recordedRoots = this.db.sublevel<string, RecordedRootsEntry>('pr', { keyEncoding: 'utf8', valueEncoding: 'json' })
    this.runCache = this.db.sublevel<string, unknown>('r', { keyEncoding: 'utf8', valueEncoding: 'json' })
    this.runCacheStoredAt = this.db.sublevel<string, number>('rt', { keyEncoding: 'utf8', valueEncoding: 'json' })
  }

  async open (): Promise<void> {
    await this.db.open()
    for await (const key of this.quarantine.keys({ limit: 1 })) this.quarantineInUse = key != null
  }

  async close (): Promise<void> {
    await this.db.close()
  }

  async getLocation (cid: CID): Promise<BlockLocation | undefined> {
    const v = await this.blocks.get(cid.bytes)
    return v == null ? undefined : decodeLocation(v)
  }

  async getLocations (cids: CID[]): Promise<Array<BlockLocation | undefined>> {
    const values = await this.blocks.getMany(cids.map((c) => c.bytes))
    return values.map((v) => (v == null ? undefined : decodeLocation(v)))
  }

  /** Writes many block locations at once, durably (fsync) before resolving. */
  async putLocations (entries: Array<[CID, BlockLocation]>): Promise<void> {
    if (entries.length === 0) return
    // written through the root db: only its batch takes LevelDB's `sync` option
    const puts = entries.map(([cid, loc]) => ({ type: 'put' as const, sublevel: this.blocks, key: cid.bytes, value: encodeLocation(loc) }))
    // a good copy stored again (a fetch, a repair, a re-add) ends its quarantine
    const dels = this.quarantineInUse ? entries.map(([cid]) => ({ type: 'del' as const, sublevel: this.quarantine, key: cid.bytes })) : []
    await this.db.batch([...puts, ...dels], { sync: true })
  }

  /**
   * Drops the index entry of a block whose bytes at `loc` failed
   * verification, so that every reader (fetch, `has`, the exchange) counts it
   * as missing and a good copy can be stored again. Only if the index still
   * points at `loc`: a newer copy stored meanwhile is kept. True when dropped.
   * Callers serialize it with commits (see Blockstore).
   */
  async quarantineBlock (cid: CID, loc: BlockLocation, reason: string): Promise<boolean> {
    const now = await this.getLocation(cid)
    if (now == null || now.pack !== loc.pack || now.offset !== loc.offset || now.length !== loc.length) return false
    this.quarantineInUse = true
    await this.db.batch([
      { type: 'put', sublevel: this.quarantine, key: cid.bytes, value: { location: loc, reason, at: new Date().toISOString() } },
      { type: 'del', sublevel: this.blocks, key: cid.bytes }
    ], { sync: true })
    return true
  }

  /** Why `cid` was quarantined, if it was and has not been stored again since. */
  async getQuarantined (cid: CID): Promise<QuarantineEntry | undefined> {
    if (!this.quarantineInUse) return undefined
    return await this.quarantine.get(cid.bytes) ?? undefined
  }

  async getStats (paths: string[]): Promise<Array<StatEntry | undefined>> {
    return paths.length === 0 ? [] : await this.stats.getMany(paths)
  }

  /** Stat-cache writes are not synced: losing one only costs a rehash. */
  async putStats (entries: Array<[string, StatEntry]>): Promise<void> {
    if (entries.length === 0) return
    await this.stats.batch(entries.map(([key, value]) => ({ type: 'put' as const, key, value })))
  }
}
