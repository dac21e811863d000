import { Uint8ArrayList } from 'uint8arraylist'
import { MAX_BLOCK_HEADER_BYTES, MsgType, WireError, decodeBlockHeader, decodeMessage, encodeMessage, type WireMessage } from '@mlp/proto'
import type { Stream } from '@libp2p/interface'

const EMPTY = new Uint8Array(0)

/**
 * A typed message channel over one libp2p stream: u32-length-prefixed frames,
 * decoded into {@link WireMessage}s. This is the only file that touches
 * libp2p's stream API (it changed completely between v2 and v3).
 */
export interface Channel {
  /** Sends one message, waiting for the stream to drain when its buffer is full. */
  send: (msg: WireMessage) => Promise<void>
  /** Incoming messages; ends when the remote closes. A malformed frame throws {@link WireError}. */
  messages: () => AsyncGenerator<WireMessage>
  /** Closes our side gracefully. */
  close: () => Promise<void>
  /** Tears the stream down at once. */
  abort: (err: Error) => void
}

/** Options of {@link channel}. */
export interface ChannelInit {
  /** Largest frame accepted; a bigger one aborts the stream. */
  maxFrameBytes: number
  /** Bytes in and out are reported here (per-peer traffic). */
  onBytes?: (direction: 'in' | 'out', bytes: number) => void
  /** A stream that sends nothing for this long while we wait on it is aborted (slowloris). Default none. */
  idleTimeoutMs?: number
}

/** Wraps a libp2p stream as a {@link Channel}. */
export function channel (stream: Stream, init: ChannelInit): Channel {
  return {
    async send (msg) {
      // a block's data is sent as it is, after its header: no copy of the bytes
      const data = msg.type === MsgType.Block ? msg.data : undefined
      const body = msg.type === MsgType.Block ? encodeMessage({ ...msg, data: EMPTY }) : encodeMessage(msg)
      const length = body.length + (data?.length ?? 0)
      const prefix = new Uint8Array(4)
      new DataView(prefix.buffer).setUint32(0, length)
      init.onBytes?.('out', length + 4)
      // one send per frame: bigger writes were measured to move faster over yamux
      const ok = stream.send(data != null ? new Uint8ArrayList(prefix, body, data) : new Uint8ArrayList(prefix, body))
      if (!ok) await stream.onDrain()
    },
    async * messages () {
      const buf = new Uint8ArrayList()
      let idle: NodeJS.Timeout | undefined
      const arm = (): void => {
        if (init.idleTimeoutMs == null) return
        clearTimeout(idle)
        idle = setTimeout(() => { stream.abort(new WireError(`peer sent nothing for ${init.idleTimeoutMs} ms`)) }, init.idleTimeoutMs)
      }
      arm()
      try {
        yield * frames()
      } finally {
        clearTimeout(idle)
      }
      async function * frames (): AsyncGenerator<WireMessage> {
        for await (const chunk of stream) {
          arm()
          buf.append(chunk)
          init.onBytes?.('in', chunk.byteLength)
          while (buf.byteLength >= 4) {
            const len = buf.getUint32(0)
            if (len > init.maxFrameBytes) {
              const err = new WireError(`frame of ${len} bytes is over the ${init.maxFrameBytes}-byte limit`)
              stream.abort(err)
              throw err
            }
            if (buf.byteLength < 4 + len) break
            const msg = takeFrame(buf, len)
            // the peer is not idle while we are busy with what it sent
            clearTimeout(idle)
            yield msg
            arm()
          }
        }
        if (buf.byteLength > 0) throw new WireError('stream ended inside a frame')
      }
    },
    async close () {
      await stream.close().catch(() => { stream.abort(new Error('close failed')) })
    },
    abort (err) {
      stream.abort(err)
    }
  }
}

/**
 * Takes the frame of `len` bytes after the length prefix at the front of
 * `buf` and decodes it. A BLOCK that arrived in several pieces (Noise
 * delivers at most 64 KiB at a time, so most blocks do) keeps its pieces:
 * joining them cost a copy and an allocation per block, about 0.8 s of a
 * 1 GiB fetch's main thread in a CPU profile; the fetcher hashes and stores
 * the pieces as they are.
 */
function takeFrame (buf: Uint8ArrayList, len: number): WireMessage {
  const end = 4 + len
  if (len > 0 && buf.get(4) === MsgType.Block && !withinFirstChunk(buf, end)) {
    const { req, cid, dataStart } = decodeBlockHeader(buf.subarray(4, Math.min(end, 4 + MAX_BLOCK_HEADER_BYTES)))
    const parts = [...buf.sublist(4 + dataStart, end)]
    buf.consume(end)
    let joined: Uint8Array | undefined
    return {
      type: MsgType.Block,
      req,
      cid,
      parts,
      get data () {
        joined ??= joinParts(parts)
        return joined
      }
    }
  }
  const body = buf.subarray(4, end)
  buf.consume(end)
  return decodeMessage(body)
}

/** True when the first `end` bytes of `buf` lie in its first chunk (taking them copies nothing). */
function withinFirstChunk (buf: Uint8ArrayList, end: number): boolean {
  const first = buf[Symbol.iterator]().next()
  return first.done !== true && first.value.byteLength >= end
}

function joinParts (parts: readonly Uint8Array[]): Uint8Array {
  if (parts.length === 1) return parts[0]
  const out = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0))
  let at = 0
  for (const p of parts) {
    out.set(p, at)
    at += p.byteLength
  }
  return out
}
