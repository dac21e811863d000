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
 * without the index. Appends are coalesced into large writes; nothing is
 * durable until {@link Packs.sync}. After a restart or a failed write a new
 * pack is started, so a torn tail is never appended to: its bytes are simply
 * unreferenced until gc compacts the pack.
 */
export class Packs {
  private current = 0
  private handle?: FileHandle
  /** Bytes of the current pack handed out so far (written or buffered). */
  private size = 0
  /** Bytes of the current pack already written to the file. */
  private written = 0
  private buffer = Buffer.allocUnsafe(PACK_WRITE_BUFFER_BYTES)
  private buffered = 0
  private flushing: Promise<void> = Promise.resolve()
  private writeError?: unknown
  private readonly readers = new Map<number, FileHandle>()
  /** Bumped on every failed write: operations that started earlier must not commit. */
  generation = 0

  constructor (readonly dir: string) {}

  async open (): Promise<void> {
    await mkdir(this.dir, { recursive: true })
    const ids = await this.list()
    await this.startPack((ids.at(-1) ?? 0) + 1)
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
    if (this.size >= PACK_TARGET_BYTES) await this.roll()
    const recordBytes = HEADER_BYTES + cid.bytes.length + data.length
    if (this.buffered + recordBytes > this.buffer.length) await this.flush()
    const recordStart = this.size
    const loc = { pack: this.current, offset: recordStart + HEADER_BYTES + cid.bytes.length, length: data.length }
    if (recordBytes > this.buffer.length) {
      const record = Buffer.allocUnsafe(recordBytes)
      this.writeRecord(record, 0, cid, data)
      this.size += recordBytes
      this.writeAt(record, recordBytes, recordStart)
      return loc
    }
    this.writeRecord(this.buffer, this.buffered, cid, data)
    this.buffered += recordBytes
    this.size += recordBytes
    return loc
  }

  private writeRecord (target: Buffer, at: number, cid: CID, data: Uint8Array): void {
    target.writeUInt32BE(data.length, at)
    target.writeUInt16BE(cid.bytes.length, at + 4)
    target.set(cid.bytes, at + HEADER_BYTES)
    target.set(data, at + HEADER_BYTES + cid.bytes.length)
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
    this.buffer = Buffer.allocUnsafe(PACK_WRITE_BUFFER_BYTES)
    this.buffered = 0
    const previous = this.flushing
    this.writeAt(buf, len, position)
    await previous
  }

  /** Queues a write after every earlier one; a failure is kept for {@link sync} to throw. */
  private writeAt (buf: Buffer, len: number, position: number): void {
    const previous = this.flushing
    const handle = this.handle as FileHandle
    this.flushing = (async () => {
      await previous
      if (this.writeError != null) return
      try {
        let done = 0
        while (done < len) {
          const { bytesWritten } = await handle.write(buf, done, len - done, position + done)
          done += bytesWritten
        }
        this.written = Math.max(this.written, position + len)
      } catch (err) {
        this.writeError = mapDiskError(err, this.path(this.current))
        await this.fail()
      }
    })()
  }

  /** Flushes and fsyncs the current pack: every location handed out so far is durable. */
  async sync (): Promise<void> {
    await this.flush()
    await this.flushing
    if (this.writeError != null) {
      const err = this.writeError
      this.writeError = undefined
      throw err
    }
    try {
      await this.handle?.datasync()
    } catch (err) {
      await this.fail()
      throw mapDiskError(err, this.path(this.current))
    }
  }

  /** Reads `loc`'s bytes; short reads (a truncated pack) return what was there. */
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
      fh = await open(this.path(id), 'r')
      this.readers.set(id, fh)
    }
    return fh
  }

  /** Deletes a whole pack (after gc moved its live blocks). */
  async remove (id: number): Promise<void> {
    if (id === this.current) throw new Error('cannot remove the pack being written')
    await this.readers.get(id)?.close()
    this.readers.delete(id)
    await unlink(this.path(id))
  }

  async close (): Promise<void> {
    try {
      await this.sync()
    } finally {
      await this.handle?.close()
      this.handle = undefined
      for (const fh of this.readers.values()) await fh.close().catch(() => {})
      this.readers.clear()
    }
  }

  private async roll (): Promise<void> {
    await this.sync()
    await this.handle?.close()
    await this.startPack(this.current + 1)
  }

  /** After a failed write the tail of the pack is unknown: drop the buffer and move to a new pack. */
  private async fail (): Promise<void> {
    this.generation++
    this.buffered = 0
    const old = this.handle
    this.handle = undefined
    await old?.close().catch(() => {})
    await this.startPack(this.current + 1).catch(() => {})
  }

  private async startPack (id: number): Promise<void> {
    this.current = id
    this.handle = await open(this.path(id), 'wx')
    this.size = 0
    this.written = 0
  }
}
