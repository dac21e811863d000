import { BlockNotFoundError, CorruptBlockError, DiskFullError } from '@mlp/proto'
import type { CID } from 'multiformats/cid'
import { matchesCid } from './hash.js'
import { InFlightRoots } from './in-flight.js'
import type { BlockLocation, IndexDb } from './index-db.js'
import type { Packs } from './packs.js'

/** Largest pack read `getMany` makes for a run of adjacent blocks. */
const SPAN_BYTES = 4 * 1024 * 1024
/** Bytes between two blocks that still count as adjacent: a record header and id. */
const SPAN_GAP_BYTES = 128
/**
 * Pack reads `getMany` keeps in flight, and the bytes they may hold: two
 * whole spans, or up to sixteen small ones. Blocks asked for out of their
 * stored order (a sharded directory's files come in hash order, not the
 * order they were added in) are one read each, and two at a time they were
 * a thread-pool round trip per block, one after another.
 */
const READS_IN_FLIGHT = 16
const READ_BYTES_IN_FLIGHT = 2 * SPAN_BYTES

/** A block appended to a pack but not yet in the index. */
interface Pending {
  cid: CID
  loc: BlockLocation
  /** The pack write generation it was appended in: a later failed write may have lost it. */
  generation: number
}

/**
 * Content-addressed blocks: bytes in pack files, locations in LevelDB.
 * Writes are group-committed: {@link Blockstore.putMany} appends and
 * remembers the locations; {@link Blockstore.commit} fsyncs the pack, then
 * writes every pending location in one synced batch. A block is acknowledged
 * only after that, so a crash leaves either a durable block or no trace in
 * the index. Every read is verified against the id before it is returned;
 * a block that fails is quarantined (its index entry is set aside, so it counts as missing until a good copy is stored again).
 */
export class Blockstore {
  private readonly pending = new Map<string, Pending>()
  private committing: Promise<void> = Promise.resolve()
  /** Roots of adds, fetches and repros in progress: gc keeps what they wrote (see store/gc.ts). */
  readonly inFlight = new InFlightRoots()

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
  async putMany (blocks: Array<[CID, Uint8Array]>, since?: number): Promise<number> {
    this.checkGeneration(since)
    const fresh = blocks.filter(([cid]) => !this.pending.has(cid.toString()))
    if (fresh.length === 0) return 0
    const found = await this.index.getLocations(fresh.map(([cid]) => cid))
    let added = 0
    for (let i = 0; i < fresh.length; i++) {
      const [cid, bytes] = fresh[i]
      if (found[i] != null || this.pending.has(cid.toString())) continue
      await this.append(cid, bytes)
      added++
    }
    return added
  }

  /**
   * Stores a block the caller knows the store lacks (a fetch checked with
   * {@link hasMany} first), skipping the per-block index lookup.
   */
  async putNew (cid: CID, bytes: Uint8Array, since?: number): Promise<void> {
    this.checkGeneration(since)
    if (!this.pending.has(cid.toString())) await this.append(cid, bytes)
  }

  /**
   * An operation that started before a failed write stops at its next block:
   * what it wrote may be lost, so it can never commit, and blocks it kept
   * appending would only fill the disk again.
   */
  private checkGeneration (since?: number): void {
    if (since != null && this.packs.generation !== since) throw this.failure()
  }

  /** Appends a stored block again (gc compaction); the new location wins at the next commit. */
  async relocate (cid: CID, bytes: Uint8Array): Promise<void> {
    await this.append(cid, bytes)
  }

  private async append (cid: CID, bytes: Uint8Array): Promise<void> {
    const loc = await this.packs.append(cid, bytes)
    this.pending.set(cid.toString(), { cid, loc, generation: this.packs.generation })
  }

  /**
   * Makes every pending block durable. `since` is the generation the caller
   * started in: if a write failed since then, blocks it depended on may be
   * lost, so the caller's operation fails instead of committing a broken DAG.
   */
  async commit (since?: number): Promise<void> {
    const run = this.committing.then(async () => {
      this.dropLost()
      if (since != null && this.packs.generation !== since) throw this.failure()
      const batch = [...this.pending.values()]
      if (batch.length === 0) return
      const generation = this.packs.generation
      const mark = await this.packs.sync()
      if (this.packs.generation !== generation) throw this.failure()
      await this.index.putLocations(batch.map((e) => [e.cid, e.loc]))
      this.packs.markCommitted(mark)
      for (const e of batch) {
        const key = e.cid.toString()
        if (this.pending.get(key) === e) this.pending.delete(key)
      }
    })
    this.committing = run.catch(() => { this.dropLost() })
    await run
  }

  /** Forgets pending blocks appended before the last failed write: their bytes may be gone. */
  private dropLost (): void {
    for (const [key, e] of this.pending) if (e.generation !== this.packs.generation) this.pending.delete(key)
  }

  private failure (): Error {
    const err = this.packs.lastError
    return err instanceof Error ? err : new DiskFullError('a write to the store failed during this operation (disk full?): nothing was recorded; free space and retry')
  }

  /**
   * Many blocks in order, each verified, with one index round trip for all.
   * Blocks stored next to each other (the chunks of one file usually are) are
   * read with one pack read per span of up to {@link SPAN_BYTES}; up to
   * {@link READS_IN_FLIGHT} reads (two whole spans) in flight. A block that
   * is absent or corrupt comes back as its error.
   */
  async * getMany (cids: CID[]): AsyncGenerator<{ cid: CID, bytes?: Buffer, error?: Error }> {
    const found = await this.index.getLocations(cids)
    const locs = cids.map((cid, i) => this.pending.get(cid.toString())?.loc ?? found[i])
    const spans: Array<{ first: number, last: number }> = []
    for (let i = 0; i < cids.length; i++) {
      const span = spans.at(-1)
      const prev = span == null ? undefined : locs[span.last]
      const loc = locs[i]
      const adjacent = prev != null && loc != null && span != null && loc.pack === prev.pack &&
        loc.offset >= prev.offset + prev.length && loc.offset - (prev.offset + prev.length) <= SPAN_GAP_BYTES &&
        loc.offset + loc.length - (locs[span.first] as BlockLocation).offset <= SPAN_BYTES
      if (adjacent) span.last = i
      else spans.push({ first: i, last: i })
    }
    type Item = { cid: CID, bytes?: Buffer, error?: Error }
    const readSpan = async (span: { first: number, last: number }): Promise<Item[]> => {
      const first = locs[span.first]
      if (first == null || span.first === span.last) return [await this.readOne(cids[span.first], first)]
      const last = locs[span.last] as BlockLocation
      let buf: Buffer
      try {
        buf = await this.packs.read({ pack: first.pack, offset: first.offset, length: last.offset + last.length - first.offset })
      } catch (err) {
        return cids.slice(span.first, span.last + 1).map((cid) => ({ cid, error: err as Error }))
      }
      const out: Item[] = []
      for (let i = span.first; i <= span.last; i++) {
        const loc = locs[i] as BlockLocation
        const bytes = buf.subarray(loc.offset - first.offset, loc.offset - first.offset + loc.length)
        if (bytes.length === loc.length && matchesCid(cids[i], bytes)) out.push({ cid: cids[i], bytes })
        else out.push({ cid: cids[i], error: await this.corrupt(cids[i], loc, bytes.length === loc.length ? 'its bytes no longer match its id' : `truncated (${bytes.length} of ${loc.length} bytes)`) })
      }
      return out
    }
    const spanBytes = (span: { first: number, last: number }): number => {
      const first = locs[span.first]
      const last = locs[span.last]
      return first == null || last == null ? 0 : last.offset + last.length - first.offset
    }
    const window: Array<{ items: Promise<Item[]>, bytes: number }> = []
    let inFlight = 0
    for (const span of spans) {
      const bytes = spanBytes(span)
      while (window.length > 0 && (window.length >= READS_IN_FLIGHT || inFlight + bytes > READ_BYTES_IN_FLIGHT)) {
        const done = window.shift() as { items: Promise<Item[]>, bytes: number }
        inFlight -= done.bytes
        yield * await done.items
      }
      window.push({ items: readSpan(span), bytes })
      inFlight += bytes
    }
    while (window.length > 0) yield * await (window.shift() as { items: Promise<Item[]>, bytes: number }).items
  }

  private async readOne (cid: CID, loc: BlockLocation | undefined): Promise<{ cid: CID, bytes?: Buffer, error?: Error }> {
    try {
      return { cid, bytes: await this.readVerified(cid, loc) }
    } catch (err) {
      return { cid, error: err as Error }
    }
  }

  /** The bytes of a block, verified against its id. */
  async get (cid: CID): Promise<Buffer> {
    return await this.readVerified(cid, this.pending.get(cid.toString())?.loc ?? await this.index.getLocation(cid))
  }

  private async readVerified (cid: CID, loc: BlockLocation | undefined): Promise<Buffer> {
    if (loc == null) {
      const q = await this.index.getQuarantined(cid)
      if (q != null) throw new CorruptBlockError(`block ${cid.toString()} is corrupt (${q.reason}; quarantined ${q.at}): run \`mlp verify --repair\` to fetch a good copy from peers`)
      throw new BlockNotFoundError(`${cid.toString()} is not in the local store`)
    }
    let bytes: Buffer
    try {
      bytes = await this.packs.read(loc)
    } catch (err) {
      // a pack file that is gone holds nothing more; any other failure (EMFILE, EIO) may pass and proves nothing about the bytes
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw await this.corrupt(cid, loc, `pack ${loc.pack} is missing`)
      throw new CorruptBlockError(`block ${cid.toString()} could not be read from pack ${loc.pack}: ${(err as Error).message}`, { cause: err })
    }
    if (bytes.length !== loc.length) throw await this.corrupt(cid, loc, `truncated in pack ${loc.pack} (${bytes.length} of ${loc.length} bytes)`)
    if (!matchesCid(cid, bytes)) throw await this.corrupt(cid, loc, 'its bytes no longer match its id')
    return bytes
  }

  /**
   * A block whose stored bytes failed verification is quarantined: its index
   * entry goes (kept aside with the reason), so it counts as missing for
   * `has`, fetch, pull and the exchange, and a good copy from a peer can be
   * stored in its place. Returns the error for the caller to report. Run in
   * the commit chain, so a commit storing a good copy cannot interleave.
   */
  private async corrupt (cid: CID, loc: BlockLocation, reason: string): Promise<Error> {
    const pending = this.pending.get(cid.toString())
    const error = new CorruptBlockError(`block ${cid.toString()} is corrupt (${reason}): it was quarantined; run \`mlp verify --repair\` to fetch a good copy from peers`)
    // a block appended by this daemon and not yet committed is not in the index to drop
    if (pending?.loc === loc) return error
    const run = this.committing.then(async () => await this.index.quarantineBlock(cid, loc, reason))
    this.committing = run.then(() => {}, () => {})
    try {
      await run
    } catch (err) {
      return new CorruptBlockError(`block ${cid.toString()} is corrupt (${reason}), and quarantining it failed: ${(err as Error).message}`, { cause: err })
    }
    return error
  }
}
