import { YamuxStream } from '@chainsafe/libp2p-yamux/stream'

let installed = false

/**
 * Stops a race in @chainsafe/libp2p-yamux 8 from taking the daemon down.
 * Opening a stream queues a microtask that sends the stream's first window
 * update; when the connection closes in between (a busy peer dropping it,
 * seen in the 20-fetcher load test), that send throws StreamStateError
 * ("Cannot write to a stream that is closed") inside the microtask, where
 * nothing can catch it: an uncaught exception, and the daemon exited.
 * The frame is for a connection that is gone, so dropping it loses nothing;
 * any other error is rethrown. Idempotent.
 */
export function guardYamuxWindowUpdates (): void {
  if (installed) return
  installed = true
  const proto = YamuxStream.prototype as unknown as { sendWindowUpdate: () => void }
  const original = proto.sendWindowUpdate
  proto.sendWindowUpdate = function (this: unknown): void {
    try {
      original.call(this)
    } catch (err) {
      if ((err as Error)?.name !== 'StreamStateError') throw err
    }
  }
}
