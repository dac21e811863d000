import { RevisionDataMissingError, InvalidDagError } from '@mlp/proto'
import type { CID } from 'multiformats/cid'
import { RAW_CODEC } from '../store/constants.js'
import { decodeNode } from '../store/dag.js'
import { readShardedDirectory, HAMT_MAX_DEPTH, type ShardLink } from '../store/hamt.js'
import type { Store } from '../store/index.js'
import { LISTING_BATCH, MAX_DIFF_FILES, MAX_LISTING_BYTES } from './constants.js'
import type { PeerBlocks } from './peer-blocks.js'

/** A file of a listed tree: its content id and its size from its own root node. */
export interface ListedFile {
  cid: string
  size: number
}

/** Says which data is missing and how to get it; made by the caller, who knows the revision and the output. */
export type MissingData = (root: CID, missing: CID[]) => string

/**
 * The blocks a listing reads: from the local store, else from peers
 * holding the output's root. What peers give is kept in memory for this
 * request only, never stored: a half-held DAG in the store would make
 * `status` and other peers believe its data is here.
 */
export class ListingBlocks {
  /** Blocks that came from peers. */
  fetched = 0
  /** Entries listed so far (files and directories), every tree of the request together. */
  files = 0
  private bytes = 0
  private readonly cache = new Map<string, Uint8Array>()

  constructor (private readonly store: Store, private readonly peers?: PeerBlocks, private readonly signal?: AbortSignal) {}

  /** The bytes of `cids`, in order; what neither the store nor a peer has fails with `missing`'s message. */
  async getMany (root: CID, cids: CID[], missing: MissingData): Promise<Uint8Array[]> {
    const found = new Map<string, Uint8Array>()
    const absent: CID[] = []
    for await (const r of this.store.blockstore.getMany(cids.filter((c) => !this.cache.has(c.toString())))) {
      if (r.bytes != null) found.set(r.cid.toString(), r.bytes)
      else absent.push(r.cid)
    }
    if (absent.length > 0 && this.peers != null) {
      for (const [key, bytes] of await this.peers(root, absent, this.signal)) {
        this.bytes += bytes.length
        if (this.bytes > MAX_LISTING_BYTES) throw new RevisionDataMissingError(`the listings of this diff passed ${MAX_LISTING_BYTES / 1024 / 1024} MiB held in memory: narrow it with --targets, or fetch the data (\`mlp pull\` at that revision)`)
        this.cache.set(key, bytes)
        this.fetched++
      }
    }
    const still = absent.filter((c) => !this.cache.has(c.toString()))
    if (still.length > 0) throw new RevisionDataMissingError(missing(root, still))
    return cids.map((c) => found.get(c.toString()) ?? this.cache.get(c.toString()) as Uint8Array)
  }

  /** Counts listed files against {@link MAX_DIFF_FILES}. */
  count (n: number): void {
    this.files += n
    if (this.files > MAX_DIFF_FILES) throw new RevisionDataMissingError(`over ${MAX_DIFF_FILES} files to compare: narrow the diff with --targets <path>`)
  }
}

interface Pending { path: string, cid: CID, tsize: number }

/**
 * Every file (and symlink, size 0) below a DAG root, by path relative to it
 * ('' for a file root), walked a level at a time so that each level's
 * blocks are asked for together. File contents are never read: a raw leaf's
 * size is its link's Tsize (the leaf is the file), a file node's size is
 * its own. Directory names pass decodeNode's path rules before any join.
 */
export async function listTree (blocks: ListingBlocks, root: CID, recordedSize: number, missing: MissingData): Promise<Map<string, ListedFile>> {
  const out = new Map<string, ListedFile>()
  // every entry is counted once, where its directory lists it (the root here)
  blocks.count(1)
  let level: Pending[] = [{ path: '', cid: root, tsize: recordedSize }]
  while (level.length > 0) {
    const next: Pending[] = []
    for (let i = 0; i < level.length; i += LISTING_BATCH) {
      const batch = level.slice(i, i + LISTING_BATCH)
      const raw = batch.filter((p) => p.cid.code === RAW_CODEC)
      for (const p of raw) out.set(p.path, { cid: p.cid.toString(), size: p.tsize })
      const nodes = batch.filter((p) => p.cid.code !== RAW_CODEC)
      const bytes = await blocks.getMany(root, nodes.map((p) => p.cid), missing)
      for (let j = 0; j < nodes.length; j++) next.push(...await visitNode(blocks, root, nodes[j], bytes[j], out, missing))
    }
    level = next
  }
  return out
}

/** A file node goes to `out`; a directory's entries come back, to be visited at the next level. */
async function visitNode (blocks: ListingBlocks, root: CID, p: Pending, bytes: Uint8Array, out: Map<string, ListedFile>, missing: MissingData): Promise<Pending[]> {
  const node = decodeNode(p.cid, bytes)
  if (node.kind === 'file' || node.kind === 'raw' || node.kind === 'symlink') {
    out.set(p.path, { cid: p.cid.toString(), size: node.kind === 'file' ? node.size : node.kind === 'raw' ? node.bytes.length : 0 })
    return []
  }
  const entries = node.kind === 'directory' ? node.entries : await shardEntries(blocks, root, p.cid, node.links, missing)
  blocks.count(entries.length)
  return entries.map((e) => ({ path: p.path === '' ? e.name : `${p.path}/${e.name}`, cid: e.link.cid, tsize: e.link.tsize }))
}

/** The entries of a sharded directory: its sub-shards are asked for a level at a time, then read by store/hamt.ts (which checks the trie). */
async function shardEntries (blocks: ListingBlocks, root: CID, dir: CID, links: ShardLink[], missing: MissingData): Promise<Array<{ name: string, link: { cid: CID, size: number, tsize: number } }>> {
  const shards = new Map<string, ShardLink[]>()
  let level = links.filter((l) => l.name == null).map((l) => l.cid)
  for (let depth = 1; level.length > 0; depth++) {
    if (depth >= HAMT_MAX_DEPTH) throw new InvalidDagError(`${dir.toString()} is a sharded directory deeper than ${HAMT_MAX_DEPTH} levels: refused`)
    const todo = level.filter((c) => !shards.has(c.toString()))
    const bytes = await blocks.getMany(root, todo, missing)
    const next: CID[] = []
    todo.forEach((cid, i) => {
      const node = decodeNode(cid, bytes[i])
      if (node.kind !== 'hamt') throw new InvalidDagError(`${dir.toString()} is a sharded directory whose sub-shard ${cid.toString()} is a ${node.kind}: refused`)
      shards.set(cid.toString(), node.links)
      next.push(...node.links.filter((l) => l.name == null).map((l) => l.cid))
    })
    level = next
  }
  return await readShardedDirectory(dir, links, async (cid) => shards.get(cid.toString()) ?? [])
}

/** The entry `name` of a directory DAG (flat or sharded), or undefined; a file where a directory was expected: undefined. */
export async function childOf (blocks: ListingBlocks, root: CID, dir: CID, name: string, missing: MissingData): Promise<CID | undefined> {
  if (dir.code === RAW_CODEC) return undefined
  const [bytes] = await blocks.getMany(root, [dir], missing)
  const node = decodeNode(dir, bytes)
  if (node.kind !== 'directory' && node.kind !== 'hamt') return undefined
  const entries = node.kind === 'directory' ? node.entries : await shardEntries(blocks, root, dir, node.links, missing)
  return entries.find((e) => e.name === name)?.link.cid
}

/**
 * A small file's bytes (a metrics file), leaves asked for together; a file
 * over `maxBytes`, by its own root node, is refused before any leaf is read.
 */
export async function readSmallFile (blocks: ListingBlocks, root: CID, cid: CID, maxBytes: number, missing: MissingData): Promise<Uint8Array> {
  const [bytes] = await blocks.getMany(root, [cid], missing)
  const node = decodeNode(cid, bytes)
  if (node.kind === 'raw') return node.bytes
  if (node.kind !== 'file') throw new InvalidDagError(`${cid.toString()} is a ${node.kind}, not a file`)
  if (node.size > maxBytes) throw new InvalidDagError(`${cid.toString()} is ${node.size} bytes, over the ${maxBytes} read here`)
  const parts: Uint8Array[] = node.data != null ? [node.data] : []
  let total = parts.reduce((n, p) => n + p.length, 0)
  // a small file's nodes are one level of raw leaves; a deeper tree is read a level at a time
  for (const child of await blocks.getMany(root, node.links.map((l) => l.cid), missing)) {
    total += child.length
    if (total > maxBytes) throw new InvalidDagError(`${cid.toString()} holds over ${maxBytes} bytes`)
    parts.push(child)
  }
  if (node.links.some((l) => l.cid.code !== RAW_CODEC)) throw new InvalidDagError(`${cid.toString()} is a file of more than one level: too large to read here`)
  return Buffer.concat(parts)
}
