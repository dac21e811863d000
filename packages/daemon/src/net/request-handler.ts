import type { Connection, Stream } from '@libp2p/interface'
import { MAX_FRAME_BYTES, WireError, type WireMessage } from '@mlp/proto'
import { STREAM_IDLE_MS } from '../exchange/constants.js'
import { firstMessage } from './first-message.js'
import type { MlpNode } from './node.js'
import { channel } from './streams.js'

/**
 * Serves a one-request, one-reply protocol: reads the first message (a
 * peer that sends none within {@link STREAM_IDLE_MS} is cut off), sends what
 * `answer` returns and closes. A missing or malformed request, or `answer`
 * throwing, aborts the stream; the requester sees it closed.
 */
export async function handleRequests (node: MlpNode, protocol: string, maxInboundStreams: number, answer: (msg: WireMessage, peer: string) => Promise<WireMessage>): Promise<void> {
  await node.handle(protocol, async (stream: Stream, connection: Connection) => {
    const ch = channel(stream, { maxFrameBytes: MAX_FRAME_BYTES })
    try {
      const msg = await firstMessage(ch, STREAM_IDLE_MS)
      if (msg == null) throw new WireError('stream closed before a request')
      await ch.send(await answer(msg, connection.remotePeer.toString()))
      await ch.close()
    } catch (err) {
      ch.abort(err as Error)
    }
  }, { maxInboundStreams })
}
