/**
 * UnixFS HAMT-sharded directories, as IPFS writes them: a directory too big
 * for one node (one wire frame, one block) is spread over a hash trie of
 * nodes with 256 buckets each, keyed by murmur3-x64-64 of the entry name.
 * Link names are the bucket as 2 uppercase hex characters, followed by the
 * entry name for an entry or by nothing for a sub-shard. A bucket holding
 * two or more entries is a sub-shard keyed by the next hash byte, so the
 * shape depends only on the set of names: the same directory always gives
 * the same root id.
 */
import * as dagPb from '@ipld/dag-pb'
import { murmur364 } from '@multiformats/murmur3'
import { InvalidDagError, PathError } from '@mlp/proto'
import { UnixFS } from 'ipfs-unixfs'
import type { CID } from 'multiformats/cid'
import { DAG_PB_CODEC } from './constants.js'
import type { BlockSink, Link } from './dag.js'
import { cidOf } from './hash.js'
import { entryNameProblem, entryNamesProblem, quoteName } from './path-rules.js'

/** Buckets per shard node: IPFS's default, and the only fanout mlp reads. */
export const HAMT_FANOUT = 256
/** Multicodec of murmur3-x64-64, the UnixFS `hashType` of a HAMT. */
export const HAMT_HASH_TYPE = 0x22
/**
 * Shard a directory whose flat node would be larger than this, estimated as
 * kubo does (entry name bytes + link id bytes): kubo's HAMTShardingSize, so
 * directories get the same shape as in IPFS, and far below the 2 MiB wire
 * frame a single node must fit in (a flat node is about 1.4x the estimate).
 */
export const SHARD_ABOVE_BYTES = 256 * 1024
/** One hash byte per level: a 64-bit hash is used up after 8 levels. */
export const HAMT_MAX_DEPTH = 8

const PREFIX = /^[0-9A-F]{2}$/

/** One link of a shard node: an entry (with its name) or a sub-shard (no name). */
export interface ShardLink {
  bucket: number
  /** The entry name after the bucket prefix; undefined for a sub-shard. */
  name?: string
  cid: CID
  tsize: number
}

/** The 8 hash bytes that place `name`; byte `d` is its bucket at depth `d` (most significant first, as go-unixfs reads them). */
export function hamtHash (name: string): Uint8Array {
  const hash = murmur364.encode(Buffer.from(name))
  // typed as maybe-async by the multiformats Hasher interface; this hasher is plain JS and synchronous
  if (hash instanceof Promise) throw new TypeError('murmur3-x64-64 returned a promise')
  return hash
}

/** The link name prefix of a bucket: 2 uppercase hex characters. */
function bucketName (bucket: number): string {
  return bucket.toString(16).toUpperCase().padStart(2, '0')
}

/** kubo's estimate of a flat directory node's size, for the shard decision. */
export function flatSizeEstimate (entries: ReadonlyArray<{ name: string, link: Link }>): number {
  return entries.reduce((n, e) => n + Buffer.byteLength(e.name) + e.link.cid.bytes.length, 0)
}

interface Item { name: string, link: Link, hash: Uint8Array }

/**
 * Writes `entries` (names already checked by the caller) as a sharded
 * directory and returns its root link.
 */
export async function buildShardedDirectory (entries: ReadonlyArray<{ name: string, link: Link }>, sink: BlockSink): Promise<Link> {
  return await buildShard(entries.map((e) => ({ ...e, hash: hamtHash(e.name) })), 0, sink)
}

async function buildShard (items: Item[], depth: number, sink: BlockSink): Promise<Link> {
  const buckets: Item[][] = []
  for (const item of items) (buckets[item.hash[depth]] ??= []).push(item)
  const links: dagPb.PBLink[] = []
  // go-bitfield's layout: bit i in byte (len - 1 - i/8)
  const bitfield = new Uint8Array(HAMT_FANOUT / 8)
  let below = 0
  for (let bucket = 0; bucket < HAMT_FANOUT; bucket++) {
    const group = buckets[bucket]
    if (group == null) continue
    bitfield[bitfield.length - 1 - (bucket >> 3)] |= 1 << (bucket & 7)
    let name = bucketName(bucket)
    let link: Link
    if (group.length === 1) {
      name += group[0].name
      link = group[0].link
    } else {
      // two names with the same 64-bit hash: IPFS cannot store them either
      if (depth + 1 >= HAMT_MAX_DEPTH) throw new PathError(`cannot track a directory holding both ${quoteName(group[0].name)} and ${quoteName(group[1].name)}: their murmur3 hashes collide`)
      link = await buildShard(group, depth + 1, sink)
    }
    links.push({ Name: name, Hash: link.cid, Tsize: link.tsize })
    below += link.tsize
  }
  const data = new UnixFS({ type: 'hamt-sharded-directory', data: bitfield, fanout: BigInt(HAMT_FANOUT), hashType: BigInt(HAMT_HASH_TYPE) })
  const bytes = dagPb.encode({ Data: data.marshal(), Links: links })
  const cid = cidOf(DAG_PB_CODEC, bytes)
  await sink(cid, bytes)
  return { cid, size: 0, tsize: bytes.length + below }
}

/**
 * The links of one shard node, checked on their own: fanout 256 and
 * murmur3 only, every name a 2-hex-character bucket (ascending, each at most
 * once, so at most 256 links) and then nothing (a dag-pb sub-shard) or an
 * entry name that passes the path rules.
 */
export function decodeShardLinks (cid: CID, pb: dagPb.PBNode, fs: UnixFS): ShardLink[] {
  const id = cid.toString()
  if (fs.fanout !== BigInt(HAMT_FANOUT)) throw new InvalidDagError(`${id} is a sharded directory with fanout ${String(fs.fanout)}: mlp reads only ${HAMT_FANOUT}`)
  const hashType = unixfsHashType(pb.Data ?? new Uint8Array())
  if (hashType !== BigInt(HAMT_HASH_TYPE)) throw new InvalidDagError(`${id} is a sharded directory with hash type ${hashType == null ? 'missing' : `0x${hashType.toString(16)}`}: mlp reads only murmur3-x64-64 (0x22)`)
  let last = -1
  return pb.Links.map((l) => {
    const full = l.Name ?? ''
    const prefix = full.slice(0, 2)
    if (!PREFIX.test(prefix)) throw new InvalidDagError(`${id} is a sharded directory with a link named ${quoteName(full)}, not 2 uppercase hex characters and a name: refused`)
    const bucket = parseInt(prefix, 16)
    if (bucket <= last) throw new InvalidDagError(`${id} is a sharded directory with bucket ${prefix} ${bucket === last ? 'twice' : 'out of order'}: refused`)
    last = bucket
    const name = full.slice(2)
    const tsize = l.Tsize ?? 0
    if (name === '') {
      if (l.Hash.code !== DAG_PB_CODEC) throw new InvalidDagError(`${id} has a sub-shard ${prefix} that is not a dag-pb node: refused`)
      return { bucket, cid: l.Hash, tsize }
    }
    const problem = entryNameProblem(name)
    if (problem != null) throw new InvalidDagError(`${id} is a directory with ${problem}: refused`)
    return { bucket, name, cid: l.Hash, tsize }
  })
}

/**
 * The `hashType` field (5) of a UnixFS Data message: ipfs-unixfs writes it
 * but its unmarshal drops it, so it is read here. Undefined when absent or
 * when the message cannot be scanned.
 */
function unixfsHashType (data: Uint8Array): bigint | undefined {
  let at = 0
  const varint = (): bigint | undefined => {
    let value = 0n
    for (let shift = 0n; at < data.length && shift < 70n; shift += 7n) {
      const byte = data[at++]
      value |= BigInt(byte & 0x7f) << shift
      if ((byte & 0x80) === 0) return value
    }
    return undefined
  }
  let found: bigint | undefined
  while (at < data.length) {
    const tag = varint()
    if (tag == null) return undefined
    const wire = Number(tag & 7n)
    if (wire === 0) {
      const value = varint()
      if (value == null) return undefined
      if (tag >> 3n === 5n) found = value
    } else if (wire === 2) {
      const length = varint()
      if (length == null) return undefined
      at += Number(length)
    } else if (wire === 1 || wire === 5) {
      at += wire === 1 ? 8 : 4
    } else {
      return undefined
    }
  }
  return at === data.length ? found : undefined
}

/** Loads a sub-shard's links; throws InvalidDagError when the block is not a shard node. */
export type ShardLoader = (cid: CID) => Promise<ShardLink[]>

/**
 * Every entry of a sharded directory, sorted by name bytes as a flat one's
 * are. Hostile tries fail as {@link InvalidDagError}: an entry in a bucket
 * its hash does not lead to (which also stops a sub-shard reused under many
 * buckets from multiplying the walk), an empty sub-shard, more than
 * {@link HAMT_MAX_DEPTH} levels (so no loop or endless chain), and names
 * that fold to the same one.
 */
export async function readShardedDirectory (root: CID, links: ShardLink[], load: ShardLoader): Promise<Array<{ name: string, link: Link }>> {
  const out: Array<{ name: string, link: Link, key: Buffer }> = []
  const visit = async (cid: CID, shard: ShardLink[], path: number[]): Promise<void> => {
    const depth = path.length
    if (depth > 0 && shard.length === 0) throw new InvalidDagError(`${root.toString()} has an empty sub-shard ${cid.toString()}: refused`)
    for (const l of shard) {
      if (l.name == null) {
        if (depth + 1 >= HAMT_MAX_DEPTH) throw new InvalidDagError(`${root.toString()} is a sharded directory deeper than ${HAMT_MAX_DEPTH} levels: refused`)
        await visit(l.cid, await load(l.cid), [...path, l.bucket])
        continue
      }
      const hash = hamtHash(l.name)
      if (hash[depth] !== l.bucket || path.some((b, i) => hash[i] !== b)) throw new InvalidDagError(`${root.toString()} is a sharded directory with ${quoteName(l.name)} in a bucket its hash does not lead to: refused`)
      out.push({ name: l.name, link: { cid: l.cid, size: 0, tsize: l.tsize }, key: Buffer.from(l.name) })
    }
  }
  await visit(root, links, [])
  out.sort((a, b) => Buffer.compare(a.key, b.key))
  const problem = entryNamesProblem(out.map((e) => e.name))
  if (problem != null) throw new InvalidDagError(`${root.toString()} is a directory with ${problem.replace(/^entry with /, '')}: refused`)
  return out.map(({ name, link }) => ({ name, link }))
}
