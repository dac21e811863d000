import { StreamState, YamuxStream } from '@chainsafe/libp2p-yamux/stream'

let installed = false

/** The fields of a yamux stream that decide whether a window update is due. */
interface WindowState {
  state: StreamState
  recvWindow: number
  recvWindowCapacity: number
}

/**
 * Sends a yamux window update only once half the receive window is used,
 * as Go's yamux does, instead of after every data frame.
 *
 * @chainsafe/libp2p-yamux 8 answers each data frame with a window update:
 * during a fetch that is one 12-byte frame (and, under Noise, one encrypted
 * message and one socket write) per block received, about 13,000 per GiB.
 * The sender never waits for them: it still holds the other half of the
 * window. Updates that carry a flag (the SYN or ACK of a new stream) and
 * those of a paused stream go through the library's own logic unchanged.
 * Idempotent.
 */
export function batchYamuxWindowUpdates (): void {
  if (installed) return
  installed = true
  const proto = YamuxStream.prototype as unknown as { sendWindowUpdate: () => void }
  const original = proto.sendWindowUpdate
  proto.sendWindowUpdate = function (this: WindowState): void {
    const flagless = this.state === StreamState.SYNSent || this.state === StreamState.Established
    if (flagless && this.recvWindow - this.recvWindowCapacity < this.recvWindow / 2) return
    original.call(this)
  }
}
