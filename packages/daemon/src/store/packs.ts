import { mkdir, open, readdir, stat, unlink, type FileHandle } from 'node:fs/promises'
import { join } from 'node:path'
import type { CID } from 'multiformats/cid'
import { PACK_TARGET_BYTES, PACK_WRITE_BUFFER_BYTES } from './constants.js'
import { mapDiskError } from './disk-errors.js'
import type { BlockLocation } from './index-db.js'

/** Bytes of a record header: u32 data length, u16 cid length. */
const HEADER_BYTES = 6

function packName (id: number): string {
  return `${String(id).padStart(8, '0')}.pack`
}

/**
 * Append-only pack files holding block bytes. Each record is
 * `u32 length | u16 cid length | cid | data`, so a pack can be scanned
 * without the index. Appends are coalesced into large writes, written behind
 * the caller; nothing is durable until {@link Packs.sync}.
 *
 * Every switch to a new pack (at start, when one is full, after a failed
 * write) happens synchronously, so an append never computes its offset in
 * one pack and lands in another. After a failed write the pack is cut back
 * to what the index references and abandoned: a torn tail is never appended
 * to, and on a full disk the space comes back at once.
 */
export class Packs {
  private current = 0
  /** Bytes of the current pack handed out so far (written or buffered). */
  private size = 0
  /** Bytes of the current pack already written to the file. */
  private written = 0
  /** Bytes of the current pack that are durable and referenced by the index. */
  private committed = 0
  private buffer: Buffer = Buffer.allocUnsafe(PACK_WRITE_BUFFER_BYTES)
  private buffered = 0
  /** Write buffers whose write finished, reused: a fresh 8 MiB buffer per flush kept the GC busy. */
  private readonly spare: Buffer[] = []
  /** The chain of queued writes, in order. */
  private flushing: Promise<void> = Promise.resolve()
  /** Write handles by pack id: the current pack, and a full one until its tail is synced. */
  private readonly writers = new Map<number, Promise<FileHandle>>()
  private readonly abandoned = new Set<number>()
  /** Open read handles by pack id; the promise is kept so that concurrent first reads open the pack once, not once each (the extra handles leaked). */
  private readonly readers = new Map<number, Promise<FileHandle>>()
  /** Syncing and closing of packs that were filled; commits wait for it. */
  private retiring: Promise<void> = Promise.resolve()
  /** The last write failure, for the message of operations it broke. */
  lastError?: unknown
  /** Bumped on every failed write: operations that started earlier must not commit. */
  generation = 0

  constructor (readonly dir: string) {}

  async open (): Promise<void> {
    await mkdir(this.dir, { recursive: true })
    const ids = await this.list()
    this.switchTo((ids.at(-1) ?? 0) + 1)
    await this.writers.get(this.current)
  }

  /** Ids of every pack file, ascending. */
  async list (): Promise<number[]> {
    const names = await readdir(this.dir)
    return names.filter((n) => /^\d{8}\.pack$/.test(n)).map((n) => Number.parseInt(n, 10)).sort((a, b) => a - b)
  }

  /** The pack currently appended to (never compacted). */
  currentPack (): number {
    return this.current
  }

  path (id: number): string {
    return join(this.dir, packName(id))
  }

  async fileSize (id: number): Promise<number> {
    return (await stat(this.path(id))).size
  }

  /** Appends one block; its location is valid for reads at once, durable after {@link sync}. */
  async append (cid: CID, data: Uint8Array): Promise<BlockLocation> {
    const recordBytes = HEADER_BYTES + cid.bytes.length + data.length
    // concurrent appends (several peers feeding one fetch) may refill the
    // buffer while we wait on a flush: check again until the record fits
    while (recordBytes <= this.buffer.length && this.buffered + recordBytes > this.buffer.length) await this.flush()
    if (this.size >= PACK_TARGET_BYTES) this.roll()
    // from here to the return nothing awaits: offset and pack cannot change under us
    const recordStart = this.size
    const loc = { pack: this.current, offset: recordStart + HEADER_BYTES + cid.bytes.length, length: data.length }
    if (recordBytes > this.buffer.length) {
      if (this.buffered > 0) void this.flush()
      const record = Buffer.allocUnsafe(recordBytes)
      writeRecord(record, 0, cid, data)
      this.size += recordBytes
      this.writeAt(this.current, record, recordBytes, recordStart)
    } else {
      writeRecord(this.buffer, this.buffered, cid, data)
      this.buffered += recordBytes
      this.size += recordBytes
    }
    return loc
  }

  /**
   * Starts writing the buffered appends (not yet fsynced). Write-behind: it
   * returns once the previous write finished, so one write is always in
   * flight while the caller chunks and hashes the next buffer.
   */
  async flush (): Promise<void> {
    if (this.buffered === 0) return
    const buf = this.buffer
    const len = this.buffered
    const position = this.size - this.buffered
    this.buffer = this.spare.pop() ?? Buffer.allocUnsafe(PACK_WRITE_BUFFER_BYTES)
    this.buffered = 0
    const previous = this.flushing
    this.writeAt(this.current, buf, len, position, true)
    await previous
  }

  /** Queues a write after every earlier one; a failure bumps {@link generation}. */
  private writeAt (pack: number, buf: Buffer, len: number, position: number, reusable = false): void {
    const previous = this.flushing
    const writer = this.writers.get(pack)
    this.flushing = (async () => {
      try {
        await this.write(pack, writer, buf, len, position, previous)
      } finally {
        if (reusable && this.spare.length < 2) this.spare.push(buf)
      }
    })()
  }

  private async write (pack: number, writer: Promise<FileHandle> | undefined, buf: Buffer, len: number, position: number, previous: Promise<void>): Promise<void> {
    await previous
    if (this.abandoned.has(pack) || writer == null) return
    try {
      const handle = await writer
      let done = 0
      while (done < len) {
        const { bytesWritten } = await handle.write(buf, done, len - done, position + done)
        done += bytesWritten
      }
      if (pack === this.current) this.written = Math.max(this.written, position + len)
    } catch (err) {
      if (this.abandoned.has(pack)) return
      this.lastError = mapDiskError(err, this.path(pack))
      await this.fail(pack)
    }
  }

  /** Records that the index now references the current pack up to `size` bytes (see {@link sync}). */
  markCommitted (mark: { pack: number, size: number }): void {
    if (mark.pack === this.current) this.committed = Math.max(this.committed, mark.size)
  }

  /**
   * Flushes and fsyncs: every location handed out so far is durable. Returns
   * the mark to pass to {@link markCommitted} once the index references them.
   */
  async sync (): Promise<{ pack: number, size: number }> {
    const generation = this.generation
    const mark = { pack: this.current, size: this.size }
    await this.flush()
    await this.flushing
    await this.retiring
    if (this.generation !== generation) throw this.lastError
    try {
      await (await this.writers.get(mark.pack))?.datasync()
    } catch (err) {
      this.lastError = mapDiskError(err, this.path(mark.pack))
      await this.fail(mark.pack)
      throw this.lastError
    }
    return mark
  }

  /** Reads `loc`'s bytes; a short read (a truncated pack) returns what was there. */
  async read (loc: BlockLocation): Promise<Buffer> {
    if (loc.pack === this.current && loc.offset + loc.length > this.written) {
      await this.flush()
      await this.flushing
    }
    const fh = await this.reader(loc.pack)
    const out = Buffer.allocUnsafe(loc.length)
    let done = 0
    while (done < loc.length) {
      const { bytesRead } = await fh.read(out, done, loc.length - done, loc.offset + done)
      if (bytesRead === 0) return out.subarray(0, done)
      done += bytesRead
    }
    return out
  }

  private async reader (id: number): Promise<FileHandle> {
    let fh = this.readers.get(id)
    if (fh == null) {
      fh = open(this.path(id), 'r')
      this.readers.set(id, fh)
      // a failed open is not cached: the next read tries again
      fh.catch(() => { if (this.readers.get(id) === fh) this.readers.delete(id) })
    }
    return await fh
  }

  /** Deletes a whole pack (after gc moved its live blocks). */
  async remove (id: number): Promise<void> {
    if (id === this.current) throw new Error('cannot remove the pack being written')
    const fh = this.readers.get(id)
    this.readers.delete(id)
    await (await fh?.catch(() => undefined))?.close()
    await unlink(this.path(id))
  }

  async close (): Promise<void> {
    try {
      await this.sync()
    } finally {
      for (const writer of this.writers.values()) await (await writer.catch(() => undefined))?.close().catch(() => {})
      this.writers.clear()
      for (const fh of this.readers.values()) await fh.then(async (h) => { await h.close() }).catch(() => {})
      this.readers.clear()
    }
  }

  /** Moves to a fresh pack; the full one is synced and closed behind. */
  private roll (): void {
    const old = this.current
    const buf = this.buffer
    const len = this.buffered
    if (len > 0) {
      this.buffer = Buffer.allocUnsafe(PACK_WRITE_BUFFER_BYTES)
      this.buffered = 0
      this.writeAt(old, buf, len, this.size - len)
    }
    const writes = this.flushing
    this.switchTo(old + 1)
    this.retiring = this.retiring.then(async () => {
      await writes
      const handle = await this.writers.get(old)
      this.writers.delete(old)
      await handle?.datasync()
      await handle?.close()
    }).catch((err) => {
      this.lastError = mapDiskError(err, this.path(old))
      this.generation++
    })
  }

  /**
   * After a failed write the tail of `pack` is unknown: drop the buffer, cut
   * the pack back to what the index references, and move to a new pack.
   */
  private async fail (pack: number): Promise<void> {
    if (this.abandoned.has(pack)) return
    this.abandoned.add(pack)
    this.generation++
    const committed = pack === this.current ? this.committed : Number.POSITIVE_INFINITY
    if (pack === this.current) {
      this.buffered = 0
      this.switchTo(pack + 1)
    }
    const writer = this.writers.get(pack)
    this.writers.delete(pack)
    const handle = await writer?.catch(() => undefined)
    if (Number.isFinite(committed)) await handle?.truncate(committed).catch(() => {})
    await handle?.close().catch(() => {})
  }

  private switchTo (id: number): void {
    this.current = id
    this.size = 0
    this.written = 0
    this.committed = 0
    const opening = open(this.path(id), 'wx')
    // a failure to open shows up at the first write to this pack
    opening.catch(() => {})
    this.writers.set(id, opening)
  }
}

function writeRecord (target: Buffer, at: number, cid: CID, data: Uint8Array): void {
  target.writeUInt32BE(data.length, at)
  target.writeUInt16BE(cid.bytes.length, at + 4)
  target.set(cid.bytes, at + HEADER_BYTES)
  target.set(data, at + HEADER_BYTES + cid.bytes.length)
}
