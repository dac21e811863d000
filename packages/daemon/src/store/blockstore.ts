import { BlockNotFoundError, CorruptBlockError, DiskFullError } from '@mlp/proto'
import type { CID } from 'multiformats/cid'
import { matchesCid } from './hash.js'
import type { BlockLocation, IndexDb } from './index-db.js'
import type { Packs } from './packs.js'

/**
 * Content-addressed blocks: bytes in pack files, locations in LevelDB.
 * Writes are group-committed: {@link Blockstore.put} appends and remembers the
 * location; {@link Blockstore.commit} fsyncs the pack, then writes every
 * pending location in one synced batch. A block is acknowledged only after
 * that, so a crash leaves either a durable block or no trace in the index.
 * Every read is verified against the id before it is returned.
 */
export class Blockstore {
  private readonly pending = new Map<string, [CID, BlockLocation]>()
  private committing: Promise<void> = Promise.resolve()

  constructor (readonly index: IndexDb, readonly packs: Packs) {}

  /** The write generation an operation starts in; see {@link Blockstore.commit}. */
  generation (): number {
    return this.packs.generation
  }

  /** True when the block is stored (or pending in this daemon's current commit group). */
  async has (cid: CID): Promise<boolean> {
    if (this.pending.has(cid.toString())) return true
    return (await this.index.getLocation(cid)) != null
  }

  /** {@link has} for many blocks in one index round trip. */
  async hasMany (cids: CID[]): Promise<boolean[]> {
    const found = await this.index.getLocations(cids)
    return cids.map((cid, i) => found[i] != null || this.pending.has(cid.toString()))
  }

  /** Stores a block whose id the caller computed from these exact bytes; false if it was already there. */
  async put (cid: CID, bytes: Uint8Array): Promise<boolean> {
    return (await this.putMany([[cid, bytes]])) === 1
  }

  /**
   * Stores many blocks with one index lookup for all of them: a lookup per
   * block costs a thread-pool round trip each, which was measured to dominate
   * an import. Returns how many were new. Two operations racing on the same
   * new block may both append it; the index keeps one copy and gc reclaims
   * the other.
   */
  async putMany (blocks: Array<[CID, Uint8Array]>): Promise<number> {
    const fresh = blocks.filter(([cid]) => !this.pending.has(cid.toString()))
    if (fresh.length === 0) return 0
    const found = await this.index.getLocations(fresh.map(([cid]) => cid))
    let added = 0
    for (let i = 0; i < fresh.length; i++) {
      const [cid, bytes] = fresh[i]
      const key = cid.toString()
      if (found[i] != null || this.pending.has(key)) continue
      this.pending.set(key, [cid, await this.packs.append(cid, bytes)])
      added++
    }
    return added
  }

  /**
   * Makes every pending block durable. `since` is the generation the caller
   * started in: if a write failed since then, blocks it depended on may be
   * lost, so the caller's operation fails instead of committing a broken DAG.
   */
  async commit (since?: number): Promise<void> {
    const run = this.committing.then(async () => {
      if (since != null && this.packs.generation !== since) {
        throw new DiskFullError('a write to the store failed during this operation (disk full?): nothing was recorded; free space and retry')
      }
      const batch = [...this.pending.values()]
      if (batch.length === 0) return
      await this.packs.sync()
      await this.index.putLocations(batch)
      for (const [cid, loc] of batch) {
        const key = cid.toString()
        if (this.pending.get(key)?.[1] === loc) this.pending.delete(key)
      }
    })
    this.committing = run.catch(() => {
      // a failed commit: whatever was pending may sit in a torn pack tail
      this.pending.clear()
    })
    await run
  }

  /** Appends a stored block again (gc compaction); the new location wins at the next commit. */
  async relocate (cid: CID, bytes: Uint8Array): Promise<void> {
    this.pending.set(cid.toString(), [cid, await this.packs.append(cid, bytes)])
  }

  /** The bytes of a block, verified against its id. */
  async get (cid: CID): Promise<Buffer> {
    const loc = this.pending.get(cid.toString())?.[1] ?? await this.index.getLocation(cid)
    if (loc == null) throw new BlockNotFoundError(`${cid.toString()} is not in the local store`)
    let bytes: Buffer
    try {
      bytes = await this.packs.read(loc)
    } catch (err) {
      throw new CorruptBlockError(`block ${cid.toString()} is missing from pack ${loc.pack}: ${(err as Error).message}`, { cause: err })
    }
    if (bytes.length !== loc.length) throw new CorruptBlockError(`block ${cid.toString()} is truncated in pack ${loc.pack} (${bytes.length} of ${loc.length} bytes)`)
    if (!matchesCid(cid, bytes)) throw new CorruptBlockError(`block ${cid.toString()} is corrupt: its bytes no longer match its id; run \`mlp verify\``)
    return bytes
  }
}
