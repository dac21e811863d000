/**
 * Peer wire messages of the block exchange protocol. Each message is one
 * frame (the framing, a u32 length prefix, lives with the stream code); its
 * first byte is the type. Binary and fixed-layout on purpose: a BLOCK frame
 * carries up to 256 KiB of data and must cost no more than a copy.
 */

/** libp2p protocol id of the block exchange; bumped on an incompatible change. */
export const EXCHANGE_PROTOCOL = '/mlp/exchange/1.0.0'

/** Largest frame either side accepts: one maximal block plus headers, with room to spare. */
export const MAX_FRAME_BYTES = 2 * 1024 * 1024

/** Most ids in one WANT or HAS. */
export const MAX_IDS_PER_MESSAGE = 4096

/** A malformed or oversized peer message. */
export class WireError extends Error {
  constructor (message: string) {
    super(message)
    this.name = 'WireError'
  }
}

/** Message types. */
export const MsgType = {
  /** Send me these blocks. */
  Want: 1,
  /** One block, answering a WANT. */
  Block: 2,
  /** A block of a WANT that this peer does not have. */
  Missing: 3,
  /** Which of these blocks do you have? */
  Has: 4,
  /** Answer to HAS: one bit per id, in order. */
  Have: 5,
  /** Fetch these DAGs from whoever has them and keep a copy (`mlp push --to`). */
  Replicate: 6,
  /** Outcome of a REPLICATE: ok, and a message; answer to RUNCACHE with the entry as JSON. */
  Result: 7,
  /** Do you have a run cache entry for this stage key? */
  RunCache: 8,
  /** A JSON document (resources, remote execution); its meaning depends on the protocol. */
  Json: 9
} as const

/** A decoded message. Ids are raw CID bytes. */
export type WireMessage =
  | { type: typeof MsgType.Want, req: number, cids: Uint8Array[] }
  | {
    type: typeof MsgType.Block
    req: number
    cid: Uint8Array
    /** The block's bytes in one array (a received block in pieces is joined when this is first read). */
    data: Uint8Array
    /** A received block as the pieces it arrived in, when it did not arrive in one: hash and store these to skip the join. */
    parts?: readonly Uint8Array[]
  }
  | { type: typeof MsgType.Missing, req: number, cid: Uint8Array }
  | { type: typeof MsgType.Has, req: number, cids: Uint8Array[] }
  | { type: typeof MsgType.Have, req: number, have: boolean[] }
  | { type: typeof MsgType.Replicate, req: number, cids: Uint8Array[] }
  | { type: typeof MsgType.Result, req: number, ok: boolean, message: string }
  | { type: typeof MsgType.RunCache, req: number, key: string }
  | { type: typeof MsgType.Json, req: number, json: string }

function idListSize (cids: Uint8Array[]): number {
  return cids.reduce((n, c) => n + 1 + c.length, 0)
}

/** Encodes a message into one frame body (without the length prefix). */
export function encodeMessage (msg: WireMessage): Uint8Array {
  let size = 5
  const text = msg.type === MsgType.Result
    ? new TextEncoder().encode(msg.message)
    : msg.type === MsgType.RunCache ? new TextEncoder().encode(msg.key) : msg.type === MsgType.Json ? new TextEncoder().encode(msg.json) : undefined
  if (msg.type === MsgType.Want || msg.type === MsgType.Has || msg.type === MsgType.Replicate) size += 2 + idListSize(msg.cids)
  else if (text != null) size += 1 + text.length
  else if (msg.type === MsgType.Block) size += 1 + msg.cid.length + msg.data.length
  else if (msg.type === MsgType.Missing) size += 1 + msg.cid.length
  else if (msg.type === MsgType.Have) size += 2 + Math.ceil(msg.have.length / 8)
  const out = new Uint8Array(size)
  const view = new DataView(out.buffer)
  out[0] = msg.type
  view.setUint32(1, msg.req)
  let at = 5
  const putId = (cid: Uint8Array): void => {
    if (cid.length > 255) throw new WireError('content id longer than 255 bytes')
    out[at++] = cid.length
    out.set(cid, at)
    at += cid.length
  }
  switch (msg.type) {
    case MsgType.Want:
    case MsgType.Has:
    case MsgType.Replicate:
      if (msg.cids.length > MAX_IDS_PER_MESSAGE) throw new WireError(`more than ${MAX_IDS_PER_MESSAGE} ids in one message`)
      view.setUint16(at, msg.cids.length)
      at += 2
      for (const c of msg.cids) putId(c)
      break
    case MsgType.Block:
      putId(msg.cid)
      out.set(msg.data, at)
      break
    case MsgType.Missing:
      putId(msg.cid)
      break
    case MsgType.Have:
      view.setUint16(at, msg.have.length)
      at += 2
      msg.have.forEach((h, i) => { if (h) out[at + (i >> 3)] |= 1 << (i & 7) })
      break
    case MsgType.Result:
      out[at++] = msg.ok ? 1 : 0
      out.set(text as Uint8Array, at)
      break
    case MsgType.RunCache:
    case MsgType.Json:
      out[at++] = 0
      out.set(text as Uint8Array, at)
      break
  }
  return out
}

/** Most bytes before a BLOCK's data: type, request, id length and the longest id. */
export const MAX_BLOCK_HEADER_BYTES = 5 + 1 + 255

/**
 * Decodes the header of a BLOCK frame from its first bytes (at least
 * {@link MAX_BLOCK_HEADER_BYTES}, or the whole frame if shorter), so that a
 * block that arrived in pieces can be taken without joining them. Returns
 * the request, the id, and where the data starts.
 */
export function decodeBlockHeader (head: Uint8Array): { req: number, cid: Uint8Array, dataStart: number } {
  if (head.length < 6 || head[0] !== MsgType.Block) throw new WireError('not a block message header')
  const len = head[5]
  if (len === 0) throw new WireError('empty content id')
  if (6 + len > head.length) throw new WireError('message truncated')
  const req = new DataView(head.buffer, head.byteOffset, head.byteLength).getUint32(1)
  // a copy whether `head` is a Uint8Array or a Buffer (whose slice() is a view)
  return { req, cid: Uint8Array.prototype.slice.call(head, 6, 6 + len), dataStart: 6 + len }
}

/** Decodes one frame body; throws {@link WireError} on anything malformed. */
export function decodeMessage (buf: Uint8Array): WireMessage {
  if (buf.length < 5) throw new WireError('message shorter than its header')
  if (buf.length > MAX_FRAME_BYTES) throw new WireError('message over the size limit')
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength)
  const type = buf[0]
  const req = view.getUint32(1)
  let at = 5
  const need = (n: number): void => {
    if (at + n > buf.length) throw new WireError('message truncated')
  }
  const getId = (): Uint8Array => {
    need(1)
    const len = buf[at++]
    if (len === 0) throw new WireError('empty content id')
    need(len)
    const id = buf.subarray(at, at + len)
    at += len
    return id
  }
  const getIds = (): Uint8Array[] => {
    need(2)
    const n = view.getUint16(at)
    at += 2
    if (n > MAX_IDS_PER_MESSAGE) throw new WireError(`more than ${MAX_IDS_PER_MESSAGE} ids in one message`)
    const ids: Uint8Array[] = []
    for (let i = 0; i < n; i++) ids.push(getId())
    return ids
  }
  const done = <T>(msg: T): T => {
    if (at !== buf.length) throw new WireError('trailing bytes after message')
    return msg
  }
  switch (type) {
    case MsgType.Want: return done({ type, req, cids: getIds() })
    case MsgType.Has: return done({ type, req, cids: getIds() })
    case MsgType.Block: {
      const cid = getId()
      const data = buf.subarray(at)
      at = buf.length
      return { type, req, cid, data }
    }
    case MsgType.Missing: return done({ type, req, cid: getId() })
    case MsgType.Replicate: return done({ type, req, cids: getIds() })
    case MsgType.RunCache: {
      need(1)
      const key = new TextDecoder().decode(buf.subarray(at + 1))
      if (!/^[0-9a-f]{64}$/.test(key)) throw new WireError('run cache key must be 64 hex digits')
      return { type, req, key }
    }
    case MsgType.Json: {
      need(1)
      try {
        return { type, req, json: new TextDecoder('utf-8', { fatal: true }).decode(buf.subarray(at + 1)) }
      } catch {
        throw new WireError('JSON message is not UTF-8')
      }
    }
    case MsgType.Result: {
      need(1)
      const ok = buf[at] === 1
      let message: string
      try {
        message = new TextDecoder('utf-8', { fatal: true }).decode(buf.subarray(at + 1))
      } catch {
        throw new WireError('result message is not UTF-8')
      }
      return { type, req, ok, message }
    }
    case MsgType.Have: {
      need(2)
      const n = view.getUint16(at)
      at += 2
      need(Math.ceil(n / 8))
      const have = Array.from({ length: n }, (_, i) => (buf[at + (i >> 3)] & (1 << (i & 7))) !== 0)
      at += Math.ceil(n / 8)
      return done({ type, req, have })
    }
    default:
      throw new WireError(`unknown message type ${type}`)
  }
}
