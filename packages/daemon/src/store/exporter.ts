import { randomBytes } from 'node:crypto'
import { closeSync, lstatSync, openSync, renameSync, rmSync, writeSync } from 'node:fs'
import { chmod, mkdir, open, rename, rm, symlink, lstat, type FileHandle } from 'node:fs/promises'
import { basename, dirname, join } from 'node:path'
import { InvalidDagError } from '@mlp/proto'
import type { CID } from 'multiformats/cid'
import type { Blockstore } from './blockstore.js'
import { RAW_CODEC } from './constants.js'
import { decodeNode, EXECUTABLE_MODE, type DagNode } from './dag.js'
import { readShardedDirectory, type ShardLink } from './hamt.js'
import { mapDiskError } from './disk-errors.js'
import type { DiskFloor } from './disk-floor.js'

/** Leaves read per getMany call while a file is written out. */
const READ_AHEAD = 256
/** Bytes gathered into one writev while a file is written out: about what one file being written holds. */
export const WRITE_BATCH_BYTES = 8 * 1024 * 1024

/** One entry of a flattened directory DAG. */
export interface TreeItem {
  /** Path relative to the DAG root, `/`-separated; '' for the root itself. */
  path: string
  cid: CID
  kind: 'file' | 'dir' | 'symlink'
  /** Encoded bytes of the sub-DAG (from the parent link), for the stat cache. */
  tsize: number
}

/** A child in `mlp ls`. */
export interface ListEntry {
  name: string
  cid: string
  kind: 'file' | 'dir' | 'symlink'
  size: number
}

/** Reads UnixFS DAGs out of the store: file bytes, listings, and files and trees on disk. */
export class Exporter {
  constructor (private readonly blockstore: Blockstore) {}

  /** A decoded node; a sharded directory comes back as one directory with all its entries. */
  async node (cid: CID): Promise<Exclude<DagNode, { kind: 'hamt' }>> {
    const node = decodeNode(cid, await this.blockstore.get(cid))
    if (node.kind !== 'hamt') return node
    return { kind: 'directory', entries: await readShardedDirectory(cid, node.links, async (c) => await this.shard(c, cid)) }
  }

  /** The links of a sub-shard of `root`, which must be a shard node. */
  private async shard (cid: CID, root: CID): Promise<ShardLink[]> {
    const node = decodeNode(cid, await this.blockstore.get(cid))
    if (node.kind !== 'hamt') throw new InvalidDagError(`${root.toString()} is a sharded directory whose sub-shard ${cid.toString()} is a ${node.kind}: refused`)
    return node.links
  }

  /** Kind and content size of the DAG below `cid`. */
  async describe (cid: CID): Promise<{ kind: 'file' | 'dir' | 'symlink', size: number, mode?: number }> {
    // the root node alone: a sharded directory's kind needs none of its sub-shards
    const node = decodeNode(cid, await this.blockstore.get(cid))
    if (node.kind === 'raw') return { kind: 'file', size: node.bytes.length }
    if (node.kind === 'file') return { kind: 'file', size: node.size, mode: node.mode }
    if (node.kind === 'symlink') return { kind: 'symlink', size: 0 }
    return { kind: 'dir', size: 0 }
  }

  /** The bytes of a file DAG, in order, each block verified; `signal` stops it between blocks. */
  async * file (cid: CID, signal?: AbortSignal): AsyncGenerator<Uint8Array> {
    const node = await this.node(cid)
    if (node.kind === 'raw') {
      yield node.bytes
      return
    }
    if (node.kind !== 'file') throw new InvalidDagError(`${cid.toString()} is a ${node.kind === 'directory' ? 'directory: list it with `mlp ls`' : node.kind}, not a file`)
    if (node.data != null) yield node.data
    // raw leaves in runs, through getMany: adjacent blocks come in one pack read each
    for (let i = 0; i < node.links.length;) {
      signal?.throwIfAborted()
      const link = node.links[i]
      if (link.cid.code !== RAW_CODEC) {
        yield * this.file(link.cid, signal)
        i++
        continue
      }
      let j = i
      while (j < node.links.length && j - i < READ_AHEAD && node.links[j].cid.code === RAW_CODEC) j++
      for await (const r of this.blockstore.getMany(node.links.slice(i, j).map((l) => l.cid))) {
        if (r.bytes == null) throw r.error ?? new InvalidDagError(`cannot read ${r.cid.toString()}`)
        yield r.bytes
      }
      i = j
    }
  }

  /** Encoded bytes of the DAG below `cid` (UnixFS Tsize), from its root node alone. */
  async tsizeOf (cid: CID): Promise<number> {
    const bytes = await this.blockstore.get(cid)
    if (cid.code === RAW_CODEC) return bytes.length
    const node = decodeNode(cid, bytes)
    // a sharded directory's root links carry the Tsize of the sub-shards below them
    const links = node.kind === 'file' || node.kind === 'hamt' ? node.links : node.kind === 'directory' ? node.entries.map((e) => e.link) : []
    return bytes.length + links.reduce((n, l) => n + l.tsize, 0)
  }

  /** Children of a directory DAG with their kind and size. */
  async list (cid: CID): Promise<ListEntry[]> {
    const node = await this.node(cid)
    if (node.kind !== 'directory') throw new InvalidDagError(`${cid.toString()} is not a directory: read it with \`mlp cat\``)
    return await Promise.all(node.entries.map(async (e) => {
      const d = await this.describe(e.link.cid)
      return { name: e.name, cid: e.link.cid.toString(), kind: d.kind, size: d.size }
    }))
  }

  /**
   * Every entry below a DAG root, depth first, directories before their
   * contents. Names are safe to join: decodeNode refused any directory with
   * a `..`, `/`, `.git` or duplicate entry.
   */
  async * walk (cid: CID, tsize = 0, prefix = ''): AsyncGenerator<TreeItem> {
    if (cid.code === RAW_CODEC) {
      yield { path: prefix, cid, kind: 'file', tsize }
      return
    }
    const node = await this.node(cid)
    if (node.kind === 'directory') {
      yield { path: prefix, cid, kind: 'dir', tsize }
      for (const e of node.entries) yield * this.walk(e.link.cid, e.link.tsize, prefix === '' ? e.name : `${prefix}/${e.name}`)
    } else {
      yield { path: prefix, cid, kind: node.kind === 'symlink' ? 'symlink' : 'file', tsize }
    }
  }

  /**
   * Decodes every directory below `cid` (decodeNode applies the path rules),
   * so a DAG holding a name mlp would never write fails as a whole, before
   * anything is pinned or written. File contents are not read.
   */
  async checkTree (cid: CID, signal?: AbortSignal): Promise<void> {
    for await (const item of this.walk(cid)) {
      void item
      signal?.throwIfAborted()
    }
  }

  /** Blocks are ~80 KiB: gathered into one writev per few MiB instead of one write each. */
  private async writeBytes (fh: FileHandle, cid: CID, signal?: AbortSignal, floor?: DiskFloor): Promise<void> {
    let batch: Uint8Array[] = []
    let bytes = 0
    for await (const chunk of this.file(cid, signal)) {
      // a file of a few blocks may repeat them without end: the floor counts what is written, not what the DAG claims
      await floor?.reserve(chunk.length)
      batch.push(chunk)
      bytes += chunk.length
      if (bytes >= WRITE_BATCH_BYTES) {
        await writeAll(fh, batch)
        batch = []
        bytes = 0
      }
    }
    await writeAll(fh, batch)
  }

  /**
   * The bytes of one-block (raw) files, in order, each verified: one index
   * lookup for all of them, and one pack read per run stored side by side
   * (a directory's files usually are). A missing or corrupt one throws.
   */
  async * rawFiles (cids: CID[]): AsyncGenerator<Uint8Array> {
    for await (const r of this.blockstore.getMany(cids)) {
      if (r.bytes == null) throw r.error ?? new InvalidDagError(`cannot read ${r.cid.toString()}`)
      yield r.bytes
    }
  }

  /**
   * Writes a one-block file whose verified bytes are in hand, as
   * {@link writeFile} does (a temporary name created with `wx`, renamed over
   * `dest`), with synchronous calls: for a file of a few KiB each async call
   * was a thread-pool round trip costing more than the system call itself.
   * The caller writes a bounded batch at a time, between awaits.
   */
  writeSmallFileSync (bytes: Uint8Array, dest: string): void {
    const tmp = tempName(dest)
    try {
      const fd = openSync(tmp, 'wx', 0o644)
      try {
        for (let done = 0; done < bytes.length;) done += writeSync(fd, bytes, done, bytes.length - done)
      } finally {
        closeSync(fd)
      }
      try {
        renameSync(tmp, dest)
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code
        if (code !== 'EISDIR' && code !== 'ENOTEMPTY' && code !== 'EEXIST') throw err
        if (lstatSync(dest).isDirectory()) rmSync(dest, { recursive: true })
        renameSync(tmp, dest)
      }
    } catch (err) {
      rmSync(tmp, { force: true })
      throw mapDiskError(err, dest)
    }
  }

  /**
   * Writes a file or symlink DAG to `dest` atomically: into a temporary name
   * beside it (created with `wx`, so never through a symlink), then renamed
   * over it, so a reader never sees half a file and a symlink at `dest` is
   * replaced, not followed. Go through tracking/safe-write.ts, which checks
   * that no directory above `dest` is a symlink.
   */
  async writeFile (cid: CID, dest: string, signal?: AbortSignal, floor?: DiskFloor): Promise<void> {
    const tmp = tempName(dest)
    try {
      const node = await this.node(cid)
      if (node.kind === 'symlink') {
        await symlink(node.target, tmp)
      } else {
        const fh = await open(tmp, 'wx', 0o644)
        try {
          if (node.kind === 'raw') {
            // a one-block file, the common case in a directory of many small files: its bytes are already here
            await floor?.reserve(node.bytes.length)
            await writeAll(fh, [node.bytes])
          } else {
            await this.writeBytes(fh, cid, signal, floor)
          }
        } finally {
          await fh.close()
        }
        if (node.kind === 'file' && node.mode === EXECUTABLE_MODE) await chmod(tmp, EXECUTABLE_MODE)
      }
      await replace(tmp, dest)
    } catch (err) {
      await rm(tmp, { force: true })
      throw mapDiskError(err, dest)
    }
  }
}

/** This process's mark in temporary names: random once, then counted (a random draw per file cost a system call each). */
const TEMP_TAG = randomBytes(4).toString('hex')
let tempCount = 0

/** A temporary name beside `dest`, new in this process. */
function tempName (dest: string): string {
  return join(dirname(dest), `.${basename(dest)}.mlp-tmp-${TEMP_TAG}${(tempCount++).toString(36)}`)
}

/** writev until every byte is written (a short write continues where it stopped). */
async function writeAll (fh: FileHandle, chunks: Uint8Array[]): Promise<void> {
  let rest = chunks.filter((c) => c.length > 0)
  while (rest.length > 0) {
    let { bytesWritten } = await fh.writev(rest)
    while (rest.length > 0 && bytesWritten >= rest[0].length) {
      bytesWritten -= rest[0].length
      rest = rest.slice(1)
    }
    if (rest.length > 0 && bytesWritten > 0) rest[0] = rest[0].subarray(bytesWritten)
  }
}

/** Renames `tmp` over `dest`; a directory in the way (a file became a dir or back) is removed first. */
async function replace (tmp: string, dest: string): Promise<void> {
  try {
    await rename(tmp, dest)
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code
    if (code !== 'EISDIR' && code !== 'ENOTEMPTY' && code !== 'EEXIST') throw err
    if ((await lstat(dest)).isDirectory()) await rm(dest, { recursive: true })
    await rename(tmp, dest)
  }
}

/** mkdir -p that tolerates an existing directory. */
export async function ensureDir (path: string): Promise<void> {
  await mkdir(path, { recursive: true })
}
