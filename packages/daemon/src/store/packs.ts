import { markFresh } from '../net/donated-bytes.js'
import { constants } from 'node:fs'
import { mkdir, open, readdir, stat, unlink, type FileHandle } from 'node:fs/promises'
import { join } from 'node:path'
import type { CID } from 'multiformats/cid'
import { alignDown, alignUp, allocAligned, DIRECT_IO_ALIGN } from './aligned-buffer.js'
import { PACK_TARGET_BYTES, PACK_WRITE_BUFFER_BYTES } from './constants.js'
import { mapDiskError } from './disk-errors.js'
import type { BlockLocation } from './index-db.js'

/** Bytes of a record header: u32 data length, u16 cid length. */
const HEADER_BYTES = 6

/** Write buffers kept for reuse: as many as can be in use at once (the one filling, two queued writes, a sync's tail), so none is ever mapped again. */
const MAX_SPARE_BUFFERS = 4

/** Tries to read a pack range this many times while writes land under it before giving up. */
const MAX_READ_TRIES = 1000

function packName (id: number): string {
  return `${String(id).padStart(8, '0')}.pack`
}

/** A pack's write handle; `direct` while it was opened with O_DIRECT. */
interface Writer { handle: FileHandle, direct: boolean }

/** Options of {@link Packs}, for tests. */
export interface PacksOptions {
  /** Write with O_DIRECT (default: unless `MLP_DIRECT_IO=0`, and where page-aligned buffers can be had). */
  directIo?: boolean
  /** Where write buffers come from (default: page-aligned with direct I/O, else the heap). */
  alloc?: (bytes: number) => Buffer
}

/**
 * Append-only pack files holding block bytes. Each record is
 * `u32 length | u16 cid length | cid | data`, so a pack can be scanned
 * without the index. Appends are coalesced into large writes, written behind
 * the caller; nothing is durable until {@link Packs.sync}.
 *
 * Packs are written with O_DIRECT where the filesystem takes it: a
 * buffered write of 1 GiB cost 2.5-3.8 s of kernel CPU on this VM's ext4
 * (the fetch and the add compete with it for the same two cores), a direct
 * one 0.07 s, and a 100 GB fetch no longer evicts the rest of the page
 * cache. Direct writes must start on a page boundary of the file and cover
 * whole pages, so a flush writes the whole pages of the buffer and carries
 * the partial last page over to the next buffer; a sync writes that page
 * zero-padded and cuts the file back to its real length. Reads of bytes
 * still in the buffer are answered from memory.
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
  /** Bytes of the current pack a sync made durable: a commit may be indexing them right now. */
  private synced = 0
  private buffer: Buffer
  /** Bytes in {@link buffer}; its first byte is at file offset `size - buffered`, always page-aligned. */
  private buffered = 0
  /** Write buffers whose write finished, reused: a fresh buffer per flush kept the GC busy. */
  private readonly spare: Buffer[] = []
  /** The chain of queued writes, in order. */
  private flushing: Promise<void> = Promise.resolve()
  /** Write handles by pack id: the current pack, and a full one until its tail is synced. */
  private readonly writers = new Map<number, Promise<Writer>>()
  private readonly abandoned = new Set<number>()
  /** Open read handles by pack id; the promise is kept so that concurrent first reads open the pack once, not once each (the extra handles leaked). */
  private readonly readers = new Map<number, Promise<FileHandle>>()
  /** Syncing and closing of packs that were filled; commits wait for it. */
  private retiring: Promise<void> = Promise.resolve()
  /** The last write failure, for the message of operations it broke. */
  lastError?: unknown
  /** Bumped on every failed write: operations that started earlier must not commit. */
  generation = 0

  /** Whether new packs are opened with O_DIRECT; turned off for good when the filesystem refuses it. */
  private direct: boolean
  private readonly alloc: (bytes: number) => Buffer

  constructor (readonly dir: string, options: PacksOptions = {}) {
    const aligned = options.alloc ?? alignedOrHeap
    this.direct = options.directIo ?? (process.env.MLP_DIRECT_IO !== '0' && allocAligned(DIRECT_IO_ALIGN) != null)
    this.alloc = options.alloc ?? (this.direct ? aligned : (n) => Buffer.allocUnsafeSlow(n))
    this.buffer = this.alloc(PACK_WRITE_BUFFER_BYTES)
  }

  /** Whether packs are being written with O_DIRECT (the filesystem took it). */
  get directIo (): boolean {
    return this.direct
  }

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
    // a flush leaves up to a page behind: only a record that fits beside it
    // waits for room; a bigger one gets a buffer of its own below
    const fitsBeside = recordBytes <= this.buffer.length - DIRECT_IO_ALIGN
    // concurrent appends (several peers feeding one fetch) may refill the
    // buffer while we wait on a flush: check again until the record fits
    if (fitsBeside) {
      while (this.buffered + recordBytes > this.buffer.length) await this.flush()
    }
    if (this.size >= PACK_TARGET_BYTES) this.roll()
    // from here to the return nothing awaits: offset and pack cannot change under us
    const recordStart = this.size
    const loc = { pack: this.current, offset: recordStart + HEADER_BYTES + cid.bytes.length, length: data.length }
    if (!fitsBeside && this.buffered + recordBytes > this.buffer.length) {
      const own = this.alloc(alignUp(this.buffered + recordBytes))
      this.buffer.copy(own, 0, 0, this.buffered)
      // the old buffer is dropped, not made spare: a sync may have queued
      // the write of its partial page, and a spare is refilled at once
      this.buffer = own
    }
    writeRecord(this.buffer, this.buffered, cid, data)
    this.buffered += recordBytes
    this.size += recordBytes
    if (this.buffered > PACK_WRITE_BUFFER_BYTES) void this.flush()
    return loc
  }

  /**
   * Starts writing the whole pages of the buffered appends (not yet
   * fsynced); the partial last page moves to the next buffer. Write-behind:
   * it returns once the previous write finished, so one write is always in
   * flight while the caller chunks and hashes the next buffer.
   */
  async flush (): Promise<void> {
    const whole = alignDown(this.buffered)
    if (whole === 0) return
    const buf = this.buffer
    const position = this.size - this.buffered
    const carry = this.buffered - whole
    this.buffer = this.spare.pop() ?? this.alloc(PACK_WRITE_BUFFER_BYTES)
    if (carry > 0) buf.copy(this.buffer, 0, whole, whole + carry)
    this.buffered = carry
    const previous = this.flushing
    this.writeAt(this.current, buf, whole, position, { reusable: true })
    await previous
  }

  /**
   * Queues a write of `buf[0, alignUp(data))` at `position`, after every
   * earlier one; bytes past `data` are zero padding, cut off by `truncateTo`
   * when given. A failure bumps {@link generation}.
   */
  private writeAt (pack: number, buf: Buffer, data: number, position: number, options: { reusable?: boolean, truncateTo?: number } = {}): void {
    const previous = this.flushing
    const writer = this.writers.get(pack)
    const len = alignUp(data)
    buf.fill(0, data, len)
    this.flushing = (async () => {
      try {
        await this.write(pack, writer, buf, len, position + data, position, previous, options.truncateTo)
      } finally {
        if (options.reusable === true && buf.length === PACK_WRITE_BUFFER_BYTES && this.spare.length < MAX_SPARE_BUFFERS) this.spare.push(buf)
      }
    })()
  }

  /** Writes `len` bytes of `buf` at `position`; the file then holds real data up to `dataEnd`. */
  private async write (pack: number, writer: Promise<Writer> | undefined, buf: Buffer, len: number, dataEnd: number, position: number, previous: Promise<void>, truncateTo?: number): Promise<void> {
    await previous
    if (this.abandoned.has(pack) || writer == null) return
    try {
      const w = await writer
      let done = 0
      while (done < len) {
        try {
          const { bytesWritten } = await w.handle.write(buf, done, len - done, position + done)
          done += bytesWritten
        } catch (err) {
          // after a short write the rest is misaligned: that EINVAL is no verdict on O_DIRECT
          if (!w.direct || done > 0 || (err as NodeJS.ErrnoException).code !== 'EINVAL') throw err
          // the filesystem opened it with O_DIRECT but refuses the write:
          // on without it, for this pack and every later one
          await this.reopenBuffered(pack, w)
        }
      }
      if (truncateTo != null) await w.handle.truncate(truncateTo)
      if (pack === this.current) this.written = Math.max(this.written, dataEnd)
    } catch (err) {
      if (this.abandoned.has(pack)) return
      this.lastError = mapDiskError(err, this.path(pack))
      await this.fail(pack)
    }
  }

  private async reopenBuffered (pack: number, w: Writer): Promise<void> {
    this.direct = false
    const handle = await open(this.path(pack), 'r+')
    await w.handle.close().catch(() => {})
    w.handle = handle
    w.direct = false
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
    void this.flush()
    if (this.buffered > 0) {
      // the partial last page, padded, from the live buffer: later appends
      // only add bytes past it, and this buffer is written out (and reused)
      // only by a flush queued after this write
      this.writeAt(this.current, this.buffer, this.buffered, this.size - this.buffered, { truncateTo: this.size })
    }
    await this.flushing
    await this.retiring
    if (this.generation !== generation) throw this.lastError
    try {
      await (await this.writers.get(mark.pack))?.handle.datasync()
      if (mark.pack === this.current) this.synced = Math.max(this.synced, mark.size)
    } catch (err) {
      this.lastError = mapDiskError(err, this.path(mark.pack))
      await this.fail(mark.pack)
      throw this.lastError
    }
    return mark
  }

  /** Reads `loc`'s bytes; a short read (a truncated pack) returns what was there. */
  async read (loc: BlockLocation): Promise<Buffer> {
    for (let tries = 0; tries < MAX_READ_TRIES; tries++) {
      if (loc.pack !== this.current) {
        // a pack just filled may still have its last write queued
        if (this.writers.has(loc.pack)) await this.flushing
        return await this.readFile(loc)
      }
      const end = loc.offset + loc.length
      if (end <= this.written) return await this.readFile(loc)
      const start = this.size - this.buffered
      if (loc.offset >= start) return Buffer.from(this.buffer.subarray(loc.offset - start, end - start))
      if (end > start && this.written >= start) {
        // the head is in the file, the rest still in the buffer
        const tail = Buffer.from(this.buffer.subarray(0, end - start))
        const head = await this.readFile({ pack: loc.pack, offset: loc.offset, length: start - loc.offset })
        return head.length < start - loc.offset ? head : Buffer.concat([head, tail])
      }
      // in a write still queued
      await this.flushing
    }
    throw new Error(`pack ${loc.pack}: bytes at ${loc.offset} stayed in flight through ${MAX_READ_TRIES} writes`)
  }

  private async readFile (loc: BlockLocation): Promise<Buffer> {
    const fh = await this.reader(loc.pack)
    // never a slice of Node's shared pool: a served block's bytes may be encrypted where they lie (net/donated-bytes.ts)
    const out = Buffer.allocUnsafeSlow(loc.length)
    markFresh(out)
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

  /**
   * Ends the current pack: its tail is written, synced and cut to length,
   * and appends go on in a new one. gc calls it (holding the store lock, so
   * nothing appends meanwhile) to rewrite a current pack that is mostly dead
   * bytes, which it could not otherwise reclaim. Returns the ended pack's id,
   * or undefined when the current pack is empty.
   */
  async seal (): Promise<number | undefined> {
    if (this.size === 0) return undefined
    const old = this.current
    const generation = this.generation
    this.roll()
    await this.flushing
    await this.retiring
    if (this.generation !== generation) throw this.lastError
    return old
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
      for (const writer of this.writers.values()) await (await writer.catch(() => undefined))?.handle.close().catch(() => {})
      this.writers.clear()
      for (const fh of this.readers.values()) await fh.then(async (h) => { await h.close() }).catch(() => {})
      this.readers.clear()
    }
  }

  /** Moves to a fresh pack; the full one is synced, cut to its real length and closed behind. */
  private roll (): void {
    const old = this.current
    const buf = this.buffer
    const len = this.buffered
    const end = this.size
    if (len > 0) {
      this.buffer = this.spare.pop() ?? this.alloc(PACK_WRITE_BUFFER_BYTES)
      this.buffered = 0
      this.writeAt(old, buf, len, end - len, { reusable: true, truncateTo: end })
    }
    const writes = this.flushing
    this.switchTo(old + 1)
    this.retiring = this.retiring.then(async () => {
      await writes
      const w = await this.writers.get(old)
      this.writers.delete(old)
      await w?.handle.datasync()
      await w?.handle.close()
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
    // what a sync made durable stays: a commit may be indexing it while this
    // write fails (a later append's), and those records are whole and good
    const committed = pack === this.current ? Math.max(this.committed, this.synced) : Number.POSITIVE_INFINITY
    if (pack === this.current) {
      this.buffered = 0
      this.switchTo(pack + 1)
    }
    const writer = this.writers.get(pack)
    this.writers.delete(pack)
    const handle = (await writer?.catch(() => undefined))?.handle
    if (Number.isFinite(committed)) await handle?.truncate(committed).catch(() => {})
    await handle?.close().catch(() => {})
  }

  private switchTo (id: number): void {
    this.current = id
    this.size = 0
    this.written = 0
    this.committed = 0
    this.synced = 0
    const opening = this.openWriter(this.path(id))
    // a failure to open shows up at the first write to this pack
    opening.catch(() => {})
    this.writers.set(id, opening)
  }

  private async openWriter (path: string): Promise<Writer> {
    if (this.direct) {
      try {
        return { handle: await open(path, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_DIRECT), direct: true }
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EINVAL') throw err
        // this filesystem has no direct I/O (older tmpfs, ramfs, some FUSE
        // mounts); Linux refuses the flag only after creating the file
        this.direct = false
        return { handle: await openCreatedEmpty(path), direct: false }
      }
    }
    return { handle: await open(path, 'wx'), direct: false }
  }
}

/**
 * Opens for writing a pack that an O_DIRECT open just created, or creates
 * it. O_EXCL is checked before O_DIRECT, so an existing file here was made
 * by that refused call and is empty; one that is not is never written to.
 */
async function openCreatedEmpty (path: string): Promise<FileHandle> {
  try {
    return await open(path, 'wx')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err
  }
  const handle = await open(path, 'r+')
  if ((await handle.stat()).size !== 0) {
    await handle.close()
    throw new Error(`${path}: a new pack is not empty; not writing to it`)
  }
  return handle
}

/** A page-aligned buffer where one can be mapped, else one from the heap (then O_DIRECT is never tried). */
function alignedOrHeap (bytes: number): Buffer {
  return allocAligned(bytes) ?? Buffer.allocUnsafeSlow(bytes)
}

function writeRecord (target: Buffer, at: number, cid: CID, data: Uint8Array): void {
  target.writeUInt32BE(data.length, at)
  target.writeUInt16BE(cid.bytes.length, at + 4)
  target.set(cid.bytes, at + HEADER_BYTES)
  target.set(data, at + HEADER_BYTES + cid.bytes.length)
}
