import { WireError, type WireMessage } from '@mlp/proto'
import type { Channel } from './streams.js'

/**
 * The first message of a request stream, or a WireError (and the stream
 * aborted) if the peer sends nothing within `timeoutMs`: a stream opened and
 * left silent must not be held forever (slowloris). Only the first message
 * is timed, so a long job that follows it is not cut short.
 */
export async function firstMessage (ch: Channel, timeoutMs: number): Promise<WireMessage | undefined> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => {
      const err = new WireError(`peer sent no request within ${timeoutMs} ms`)
      ch.abort(err)
      reject(err)
    }, timeoutMs)
  })
  try {
    const { value } = await Promise.race([ch.messages().next(), timeout])
    return value
  } finally {
    clearTimeout(timer)
  }
}
