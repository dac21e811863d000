import * as dagPb from '@ipld/dag-pb'
import { UnixFS } from 'ipfs-unixfs'
import { InvalidCidError, InvalidDagError, PathError } from '@mlp/proto'
import { CID } from 'multiformats/cid'
import { DAG_PB_CODEC, FILE_FANOUT, RAW_CODEC } from './constants.js'
import { buildShardedDirectory, decodeShardLinks, flatSizeEstimate, SHARD_ABOVE_BYTES, type ShardLink } from './hamt.js'
import { cidOf } from './hash.js'
import { entryNamesProblem } from './path-rules.js'

/** A reference to a sub-DAG: its root id, the file bytes below it, and the encoded bytes of the whole sub-DAG. */
export interface Link {
  cid: CID
  /** File content bytes (0 for directories and symlinks). */
  size: number
  /** Total encoded bytes of every block below, this one included (UnixFS `Tsize`). */
  tsize: number
}

/** Where built blocks go: the store, or nowhere when only the id is wanted. */
export type BlockSink = (cid: CID, bytes: Uint8Array) => Promise<void>

/** The one file mode besides the default that mlp records, as git does. */
export const EXECUTABLE_MODE = 0o755

/** A decoded node. */
export type DagNode =
  | { kind: 'file', links: Link[], size: number, mode?: number, data?: Uint8Array }
  | { kind: 'raw', bytes: Uint8Array }
  | { kind: 'directory', entries: Array<{ name: string, link: Link }> }
  | { kind: 'symlink', target: string }
  /** One node of a sharded directory; store/hamt.ts's readShardedDirectory turns the trie into entries. */
  | { kind: 'hamt', links: ShardLink[] }

function encodePb (data: UnixFS, links: dagPb.PBLink[]): { cid: CID, bytes: Uint8Array } {
  const bytes = dagPb.encode({ Data: data.marshal(), Links: links })
  return { cid: cidOf(DAG_PB_CODEC, bytes), bytes }
}

/**
 * Builds a UnixFS file from a stream of chunks as a balanced tree: raw leaves,
 * at most {@link FILE_FANOUT} links per node. Only one pending node per tree
 * level is held in memory, whatever the file size. A single-chunk file with
 * the default mode is the raw leaf itself, as in IPFS.
 */
export class FileBuilder {
  private readonly levels: Link[][] = [[]]

  constructor (private readonly sink: BlockSink, private readonly mode?: number) {}

  async addChunk (chunk: Uint8Array): Promise<void> {
    const cid = cidOf(RAW_CODEC, chunk)
    await this.sink(cid, chunk)
    await this.push(0, { cid, size: chunk.length, tsize: chunk.length })
  }

  private async push (level: number, link: Link): Promise<void> {
    this.levels[level] ??= []
    const row = this.levels[level]
    row.push(link)
    if (row.length === FILE_FANOUT) {
      this.levels[level] = []
      await this.push(level + 1, await this.node(row, false))
    }
  }

  private async node (children: Link[], root: boolean): Promise<Link> {
    const data = new UnixFS({ type: 'file', blockSizes: children.map((c) => BigInt(c.size)) })
    if (root && this.mode === EXECUTABLE_MODE) data.mode = this.mode
    const { cid, bytes } = encodePb(data, children.map((c) => ({ Hash: c.cid, Tsize: c.tsize })))
    await this.sink(cid, bytes)
    return { cid, size: children.reduce((n, c) => n + c.size, 0), tsize: bytes.length + children.reduce((n, c) => n + c.tsize, 0) }
  }

  /** Closes the tree and returns the file's root link. */
  async finish (): Promise<Link> {
    const plain = this.mode !== EXECUTABLE_MODE
    if (this.levels.length === 1 && this.levels[0].length === 0 && plain) await this.addChunk(new Uint8Array(0))
    if (this.levels.length === 1 && this.levels[0].length === 1 && plain) return this.levels[0][0]
    for (let level = 0; level < this.levels.length; level++) {
      const row = this.levels[level]
      const top = level === this.levels.length - 1
      if (top && row.length === 1 && level > 0) return row[0]
      if (row.length === 0) continue
      const link = await this.node(row, top)
      if (top) return link
      this.levels[level] = []
      this.levels[level + 1] ??= []
      this.levels[level + 1].push(link)
    }
    // an executable empty file: a file node with no links
    return await this.node([], true)
  }
}

/**
 * Builds a UnixFS directory node; entries are sorted by name bytes, as dag-pb
 * requires. Names {@link decodeNode} would refuse (a nested `.git`, two names
 * equal but for case) are refused here too: a DAG mlp could not read back
 * must never be stored. A directory whose flat node would pass `shardAbove`
 * bytes (kubo's estimate) is written HAMT-sharded instead (store/hamt.ts).
 */
export async function buildDirectory (entries: Array<{ name: string, link: Link }>, sink: BlockSink, shardAbove = SHARD_ABOVE_BYTES): Promise<Link> {
  const problem = entryNamesProblem(entries.map((e) => e.name))
  if (problem != null) throw new PathError(`cannot track a directory with ${problem.replace(/^entry with /, '')}: mlp never writes such names back`)
  if (flatSizeEstimate(entries) > shardAbove) return await buildShardedDirectory(entries, sink)
  const sorted = entries.map((e) => ({ name: Buffer.from(e.name), hash: e.link.cid.bytes, tsize: e.link.tsize })).sort((a, b) => Buffer.compare(a.name, b.name))
  const bytes = encodeDirectoryNode(sorted)
  const cid = cidOf(DAG_PB_CODEC, bytes)
  await sink(cid, bytes)
  return { cid, size: 0, tsize: bytes.length + sorted.reduce((n, e) => n + e.tsize, 0) }
}

let directoryData: Uint8Array | undefined

function varintLength (n: number): number {
  let len = 1
  while (n >= 128) {
    n = Math.floor(n / 128)
    len++
  }
  return len
}

function writeVarint (out: Uint8Array, at: number, n: number): number {
  while (n >= 128) {
    out[at++] = (n % 128) | 0x80
    n = Math.floor(n / 128)
  }
  out[at++] = n
  return at
}

/**
 * The dag-pb bytes of a flat UnixFS directory whose links are already sorted
 * by name bytes: what `dagPb.encode` writes (links first, each as Hash, Name,
 * Tsize, then the UnixFS data), without its per-link validation and
 * re-encoding of every name for each comparison, which made directories the
 * largest cost of a `status` over many unchanged files.
 * test/dag-encode.test.ts checks it byte for byte against `dagPb.encode`.
 */
export function encodeDirectoryNode (links: ReadonlyArray<{ name: Uint8Array, hash: Uint8Array, tsize: number }>): Uint8Array {
  directoryData ??= new UnixFS({ type: 'directory' }).marshal()
  const data = directoryData
  const inner = links.map((l) => {
    if (!Number.isSafeInteger(l.tsize) || l.tsize < 0) throw new InvalidDagError(`link size ${l.tsize} cannot be encoded`)
    return 1 + varintLength(l.hash.length) + l.hash.length + 1 + varintLength(l.name.length) + l.name.length + 1 + varintLength(l.tsize)
  })
  let size = 1 + varintLength(data.length) + data.length
  for (const n of inner) size += 1 + varintLength(n) + n
  const out = new Uint8Array(size)
  let at = 0
  links.forEach((l, i) => {
    out[at++] = 0x12
    at = writeVarint(out, at, inner[i])
    out[at++] = 0x0a
    at = writeVarint(out, at, l.hash.length)
    out.set(l.hash, at)
    at += l.hash.length
    out[at++] = 0x12
    at = writeVarint(out, at, l.name.length)
    out.set(l.name, at)
    at += l.name.length
    out[at++] = 0x18
    at = writeVarint(out, at, l.tsize)
  })
  out[at++] = 0x0a
  at = writeVarint(out, at, data.length)
  out.set(data, at)
  return out
}

/** Builds a UnixFS symlink node. */
export async function buildSymlink (target: string, sink: BlockSink): Promise<Link> {
  const { cid, bytes } = encodePb(new UnixFS({ type: 'symlink', data: Buffer.from(target) }), [])
  await sink(cid, bytes)
  return { cid, size: 0, tsize: bytes.length }
}

/**
 * Decodes a block into a node, checking it is UnixFS mlp can read. A
 * directory whose entry names break the path rules (store/path-rules.ts) is
 * an {@link InvalidDagError}, so no caller ever joins a hostile name into a path.
 */
export function decodeNode (cid: CID, bytes: Uint8Array): DagNode {
  if (cid.code === RAW_CODEC) return { kind: 'raw', bytes }
  if (cid.code !== DAG_PB_CODEC) throw new InvalidDagError(`${cid.toString()} has codec 0x${cid.code.toString(16)}, not raw or dag-pb`)
  let pb: dagPb.PBNode
  let fs: UnixFS
  try {
    pb = dagPb.decode(bytes)
    if (pb.Data == null) throw new Error('no UnixFS data')
    fs = UnixFS.unmarshal(pb.Data)
  } catch (err) {
    throw new InvalidDagError(`${cid.toString()} is not a UnixFS node: ${(err as Error).message}`, { cause: err })
  }
  if (fs.type === 'directory') {
    const entries = pb.Links.map((l) => ({ name: l.Name ?? '', link: { cid: l.Hash, size: 0, tsize: l.Tsize ?? 0 } }))
    // the one gate every walker passes: a name that could leave the destination never reaches a path join
    const problem = entryNamesProblem(entries.map((e) => e.name))
    if (problem != null) throw new InvalidDagError(`${cid.toString()} is a directory with ${problem.replace(/^entry with /, '')}: refused`)
    return { kind: 'directory', entries }
  }
  // names checked per link here, across the whole trie by readShardedDirectory
  if (fs.type === 'hamt-sharded-directory') return { kind: 'hamt', links: decodeShardLinks(cid, pb, fs) }
  if (fs.type === 'symlink') {
    const target = Buffer.from(fs.data ?? new Uint8Array()).toString()
    // no filesystem stores these; symlink(2) would fail halfway through a checkout instead
    if (target === '' || target.includes('\0')) throw new InvalidDagError(`${cid.toString()} is a symlink with an empty target or a NUL in it: refused`)
    return { kind: 'symlink', target }
  }
  if (fs.type === 'file' || fs.type === 'raw') {
    if (pb.Links.length !== fs.blockSizes.length) throw new InvalidDagError(`${cid.toString()}: ${pb.Links.length} links but ${fs.blockSizes.length} block sizes`)
    return {
      kind: 'file',
      links: pb.Links.map((l, i) => ({ cid: l.Hash, size: Number(fs.blockSizes[i]), tsize: l.Tsize ?? 0 })),
      size: Number(fs.fileSize()),
      mode: fs.mode === EXECUTABLE_MODE ? EXECUTABLE_MODE : undefined,
      data: fs.data != null && fs.data.length > 0 ? fs.data : undefined
    }
  }
  throw new InvalidDagError(`${cid.toString()} is a UnixFS ${fs.type}, which mlp does not read`)
}

/** Parses a content id string, or throws with the input named. */
export function parseCid (text: string): CID {
  try {
    return CID.parse(text.trim())
  } catch (err) {
    throw new InvalidCidError(`'${text}' is not a content id`, { cause: err })
  }
}
