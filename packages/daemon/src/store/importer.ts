import { openSync, readSync, closeSync, type BigIntStats } from 'node:fs'
import { open } from 'node:fs/promises'
import { CID } from 'multiformats/cid'
import { PathError } from '@mlp/proto'
import type { Blockstore } from './blockstore.js'
import { chunkFile } from './chunk-stream.js'
import { parseCidCached } from './cid-cache.js'
import { DEFAULT_CHUNKER, findCut } from './chunker.js'
import { fsClockNs } from './fs-clock.js'
import { BLOCK_BATCH_BYTES, BLOCK_BATCH_COUNT, COMMIT_EVERY_BYTES, IMPORT_READ_BYTES, PROGRESS_INTERVAL_MS, RACY_MARGIN_MS, SLAB_BYTES, SMALL_FILE_BYTES, WORKER_BUFFERS, WORKER_FILE_BYTES } from './constants.js'
import { EXECUTABLE_MODE, FileBuilder, buildDirectory, buildSymlink, type BlockSink, type Link } from './dag.js'
import { mapDiskError } from './disk-errors.js'
import type { IndexDb, StatEntry } from './index-db.js'
import { walkTree, type TreeEntry, type TreeTotals } from './walk.js'

/** Progress of an import. */
export interface ImportProgress {
  path: string
  bytes: number
  files: number
  totalBytes: number
  totalFiles: number
}

/** Options of {@link Importer.import}. */
export interface ImportOptions {
  signal?: AbortSignal
  onProgress?: (p: ImportProgress) => void
  /** false: compute ids only, store nothing (status). Default true. */
  store?: boolean
  /** Filled with the id of every file and symlink imported, by absolute path. */
  collect?: Map<string, string>
}

/** What importing one path produced. */
export interface ImportResult {
  link: Link
  /** Regular files and symlinks below the path (1 for a file). */
  nfiles: number
  /** Bytes of file content below the path. */
  size: number
  kind: 'file' | 'dir'
  /** Files actually read and hashed; the rest came from the stat cache. */
  hashedFiles: number
}

/** Components of {@link Importer}. */
export interface ImporterComponents {
  blockstore: Blockstore
  index: IndexDb
  /** The store's file-system clock marker (store/fs-clock.ts); without it entries fall back to a wall-clock margin. */
  clock?: string
}

/** The mode bits that go into a file's id. */
export function idMode (st: { mode: number | bigint }): number | undefined {
  return (Number(st.mode) & 0o111) !== 0 ? EXECUTABLE_MODE : undefined
}

/** True when a stat-cache entry still describes the file, so its id can be reused without reading it. */
export function statMatches (entry: StatEntry | undefined, st: BigIntStats): entry is StatEntry {
  if (entry == null) return false
  const same = entry.dev === Number(st.dev) && entry.ino === Number(st.ino) && entry.size === Number(st.size) &&
    entry.mtimeNs === st.mtimeNs.toString() && entry.mode === (idMode(st) ?? 0o644)
  if (!same) return false
  // racy-git: a file whose mtime is not before the moment its content was
  // known may have been changed since within the same clock tick, unseen
  if (entry.recordedAtNs != null) return st.mtimeNs < BigInt(entry.recordedAtNs)
  // entries written before the file-system clock was kept: a margin of wall-clock time
  return Number(st.mtimeNs / 1_000_000n) < entry.cachedAtMs - RACY_MARGIN_MS
}

/**
 * A stat-cache entry for a file whose content is `link`; `recordedAtNs` is
 * the file-system clock at a moment that content was known (before it was
 * read, or after mlp itself wrote it).
 */
export function statEntry (st: BigIntStats, link: Link, recordedAtNs?: bigint): StatEntry {
  return {
    dev: Number(st.dev),
    ino: Number(st.ino),
    size: Number(st.size),
    mtimeNs: st.mtimeNs.toString(),
    mode: idMode(st) ?? 0o644,
    cid: link.cid.toString(),
    tsize: link.tsize,
    cachedAtMs: Date.now(),
    ...(recordedAtNs != null ? { recordedAtNs: recordedAtNs.toString() } : {})
  }
}

/**
 * Turns files and directories into UnixFS DAGs in the block store. Unchanged
 * files (per the stat cache) are not read again. Big files stream through a
 * fixed buffer, so memory stays flat whatever their size.
 */
export class Importer {
  constructor (private readonly components: ImporterComponents) {}

  /** Imports one path (file or directory). */
  async import (path: string, name: string, options: ImportOptions = {}): Promise<ImportResult> {
    const totals: TreeTotals = { files: 0, bytes: 0 }
    // read before any file is: a file changed after this moment gets a later mtime than it
    const startNs = this.components.clock != null ? fsClockNs(this.components.clock) : undefined
    const tree = walkTree(path, name, totals)
    if (tree.kind === 'symlink') throw new PathError(`${path} is a symbolic link: add the file or directory it points to`)
    const run = new ImportRun(this.components, path, totals, options, startNs)
    const link = tree.kind === 'file' ? await run.topFile(tree.path, tree.stat) : await run.entry(tree)
    if (tree.kind === 'file') options.collect?.set(tree.path, link.cid.toString())
    await run.finish()
    return { link, nfiles: totals.files, size: totals.bytes, kind: tree.kind === 'dir' ? 'dir' : 'file', hashedFiles: run.hashed }
  }
}

/** The state of one import: progress counters, pending stat-cache writes, commit points. */
class ImportRun {
  private readonly store: boolean
  private bytes = 0
  private files = 0
  hashed = 0
  private sinceCommit = 0
  private lastProgress = 0
  private readonly stats: Array<[string, StatEntry]> = []
  private readonly generation: number
  private readonly sink: BlockSink
  private batch: Array<[CID, Uint8Array]> = []
  private batchBytes = 0
  private slab?: Buffer
  private slabUsed = 0

  constructor (private readonly c: ImporterComponents, private readonly path: string, private readonly totals: TreeTotals, private readonly options: ImportOptions, private readonly startNs?: bigint) {
    this.store = options.store !== false
    this.generation = c.blockstore.generation()
    this.sink = this.store
      ? async (cid, bytes) => {
        this.batch.push([cid, bytes])
        this.batchBytes += bytes.length
        if (this.batch.length >= BLOCK_BATCH_COUNT || this.batchBytes >= BLOCK_BATCH_BYTES) await this.flushBlocks()
      }
      : async () => {}
  }

  /**
   * `bytes` of the slab small files are read into, reused once the blocks
   * cut from it are in the store: an array of its own per file made a
   * 10,000-file add allocate 350 MB of short-lived arrays, and collect them
   * (peak RSS 245-252 MB that way, 205-212 MB with the slab).
   */
  private async slabFor (bytes: number): Promise<Buffer> {
    this.slab ??= Buffer.allocUnsafe(Math.max(SLAB_BYTES, bytes))
    if (this.slabUsed + bytes > this.slab.length) {
      // blocks are copied into the pack when stored; until then they point into the slab
      await this.flushBlocks()
      this.slabUsed = 0
      if (bytes > this.slab.length) this.slab = Buffer.allocUnsafe(bytes)
    }
    const out = this.slab.subarray(this.slabUsed, this.slabUsed + bytes)
    this.slabUsed += bytes
    return out
  }

  /** Hands the batched blocks to the store. Must run before a buffer they point into is reused. */
  private async flushBlocks (): Promise<void> {
    if (this.batch.length === 0) return
    const batch = this.batch
    this.batch = []
    this.batchBytes = 0
    await this.c.blockstore.putMany(batch, this.generation)
  }

  /** A single file: reused from the stat cache when unchanged. */
  async topFile (path: string, st: BigIntStats): Promise<Link> {
    const hit = (await this.reusable([{ path, stat: st }])).get(path)
    return hit != null ? this.reused(hit) : await this.file(path, st)
  }

  /**
   * Links of unchanged files, from the stat cache, for those whose DAG is
   * still in the store (gc may have removed it): one index round trip for all.
   */
  private async reusable (files: Array<{ path: string, stat: BigIntStats }>): Promise<Map<string, Link>> {
    const cached = await this.c.index.getStats(files.map((f) => f.path))
    const hits = files.flatMap((f, i) => {
      const entry = cached[i]
      return statMatches(entry, f.stat) ? [{ path: f.path, entry, cid: parseCidCached(entry.cid) }] : []
    })
    const present = this.store ? await this.c.blockstore.hasMany(hits.map((h) => h.cid)) : hits.map(() => true)
    const out = new Map<string, Link>()
    hits.forEach((h, i) => { if (present[i]) out.set(h.path, { cid: h.cid, size: h.entry.size, tsize: h.entry.tsize }) })
    return out
  }

  private reused (link: Link): Link {
    this.files++
    this.bytes += link.size
    this.progress()
    return link
  }

  async entry (e: TreeEntry): Promise<Link> {
    this.options.signal?.throwIfAborted()
    if (e.kind === 'symlink') {
      this.files++
      return await buildSymlink(e.target, this.sink)
    }
    if (e.kind === 'file') return await this.file(e.path, e.stat)
    const entries: Array<{ name: string, link: Link }> = []
    const files = e.children.filter((c): c is Extract<TreeEntry, { kind: 'file' }> => c.kind === 'file')
    const known = await this.reusable(files)
    for (const child of e.children) {
      const hit = known.get(child.path)
      const link = hit != null ? this.reused(hit) : await this.entry(child)
      if (child.kind !== 'dir') this.options.collect?.set(child.path, link.cid.toString())
      entries.push({ name: child.name, link })
    }
    return await buildDirectory(entries, this.sink)
  }

  private async file (path: string, st: BigIntStats): Promise<Link> {
    const builder = new FileBuilder(this.sink, idMode(st))
    try {
      if (Number(st.size) <= SMALL_FILE_BYTES) await this.smallFile(path, Number(st.size), builder)
      else if (Number(st.size) < WORKER_FILE_BYTES) await this.bigFile(path, builder)
      else await this.hugeFile(path, builder)
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new PathError(`${path} disappeared while being added`, { cause: err })
      if ((err as NodeJS.ErrnoException).code === 'EACCES') throw new PathError(`${path} is not readable (permission denied)`, { cause: err })
      throw mapDiskError(err, 'the block store')
    }
    const link = await builder.finish()
    this.files++
    this.hashed++
    this.stats.push([path, statEntry(st, link, this.startNs)])
    this.progress()
    return link
  }

  private async smallFile (path: string, size: number, builder: FileBuilder): Promise<void> {
    const fd = openSync(path, 'r')
    let buf: Buffer
    try {
      // one byte of slack tells a file that grew since it was walked
      buf = await this.slabFor(size + 1)
      let len = 0
      for (;;) {
        const n = readSync(fd, buf, len, buf.length - len, null)
        if (n === 0) break
        len += n
        if (len === buf.length) throw new PathError(`${path} grew while being added`)
      }
      buf = buf.subarray(0, len)
    } finally {
      closeSync(fd)
    }
    for (let pos = 0; pos < buf.length;) {
      const cut = findCut(buf, pos, buf.length, true)
      await builder.addChunk(buf.subarray(pos, pos + cut))
      pos += cut
    }
    await this.counted(buf.length)
  }

  /**
   * Streams a big file through two buffers: while one is chunked and hashed,
   * the next read fills the other (read-ahead). Each read lands after a
   * reserved front of one maximal chunk, where the unconsumed tail of the
   * previous buffer is copied, so a chunk never straddles two buffers.
   */
  private async bigFile (path: string, builder: FileBuilder): Promise<void> {
    const fh = await open(path, 'r')
    try {
      const max = DEFAULT_CHUNKER.maxSize
      const bufs = [Buffer.allocUnsafe(max + IMPORT_READ_BYTES), Buffer.allocUnsafe(max + IMPORT_READ_BYTES)]
      const readInto = async (b: Buffer): Promise<number> => (await fh.read(b, max, IMPORT_READ_BYTES, null)).bytesRead
      let cur = 0
      let n = await readInto(bufs[cur])
      let start = max
      let end = max + n
      let eof = n === 0
      let next = eof ? undefined : readInto(bufs[1])
      while (start < end) {
        this.options.signal?.throwIfAborted()
        if (!eof && end - start < max) {
          const other = 1 - cur
          n = await (next as Promise<number>)
          const tail = end - start
          bufs[other].set(bufs[cur].subarray(start, end), max - tail)
          // blocks still point into the old buffer: hand them over before it is read into again
          await this.flushBlocks()
          start = max - tail
          end = max + n
          eof = n === 0
          next = eof ? undefined : readInto(bufs[cur])
          cur = other
          continue
        }
        const cut = findCut(bufs[cur], start, end, eof)
        await builder.addChunk(bufs[cur].subarray(start, start + cut))
        start += cut
        await this.counted(cut)
      }
      await this.flushBlocks()
      await next
    } finally {
      await fh.close()
    }
  }

  /**
   * A file big enough to pay for a thread: it is read and cut into chunks on
   * a worker while this thread hashes and stores (chunking was measured as
   * the main thread's largest cost, 0.8 of 1.3 s of CPU per GiB).
   */
  private async hugeFile (path: string, builder: FileBuilder): Promise<void> {
    for await (const seg of chunkFile(path, { readBytes: IMPORT_READ_BYTES, buffers: WORKER_BUFFERS, signal: this.options.signal })) {
      let at = seg.start
      for (const len of seg.lengths) {
        await builder.addChunk(seg.buffer.subarray(at, at + len))
        at += len
        await this.counted(len)
      }
      // blocks point into the buffer until the store has copied them
      await this.flushBlocks()
      seg.release()
    }
  }

  /** Counts bytes done, reports progress, and commits every {@link COMMIT_EVERY_BYTES}. */
  private async counted (n: number): Promise<void> {
    this.bytes += n
    this.sinceCommit += n
    if (this.store && this.sinceCommit >= COMMIT_EVERY_BYTES) {
      this.sinceCommit = 0
      await this.flushBlocks()
      await this.c.blockstore.commit(this.generation)
    }
    this.progress()
  }

  private progress (): void {
    const now = Date.now()
    if (this.options.onProgress == null || now - this.lastProgress < PROGRESS_INTERVAL_MS) return
    this.lastProgress = now
    this.options.onProgress({ path: this.path, bytes: this.bytes, files: this.files, totalBytes: this.totals.bytes, totalFiles: this.totals.files })
  }

  /** Makes everything durable, then records the stat cache. */
  async finish (): Promise<void> {
    await this.flushBlocks()
    if (this.store) await this.c.blockstore.commit(this.generation)
    await this.c.index.putStats(this.stats)
    this.lastProgress = 0
    this.progress()
  }
}
