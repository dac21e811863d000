import { Uint8ArrayList } from 'uint8arraylist'
import { MsgType, WireError, decodeMessage, encodeMessage, type WireMessage } from '@mlp/proto'

const EMPTY = new Uint8Array(0)
import type { Stream } from '@libp2p/interface'

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
            const body = buf.subarray(4, 4 + len)
            buf.consume(4 + len)
            // the peer is not idle while we are busy with what it sent
            clearTimeout(idle)
            yield decodeMessage(body)
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
