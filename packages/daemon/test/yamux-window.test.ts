import { StreamState, YamuxStream } from '@chainsafe/libp2p-yamux/stream'
import { describe, expect, it } from 'vitest'
import { batchYamuxWindowUpdates } from '../src/net/yamux-window.js'

const WINDOW = 256 * 1024

/** A yamux stream with `used` bytes of its receive window taken; records the frames it sends. */
function streamWith (state: StreamState, used: number): { stream: { sendWindowUpdate: () => void }, frames: Array<{ length: number, flag: number }> } {
  const frames: Array<{ length: number, flag: number }> = []
  const stream = Object.assign(Object.create(YamuxStream.prototype), {
    state,
    recvWindow: WINDOW,
    recvWindowCapacity: WINDOW - used,
    maxStreamWindowSize: WINDOW,
    epochStart: Date.now(),
    getRTT: () => -1,
    sendFrame: (header: { length: number, flag: number }) => { frames.push(header) }
  })
  return { stream, frames }
}

describe('yamux window updates', () => {
  batchYamuxWindowUpdates()

  it('wait until half the receive window is used, then give it all back in one update', () => {
    const early = streamWith(StreamState.Established, WINDOW / 2 - 1)
    early.stream.sendWindowUpdate()
    expect(early.frames).toEqual([])
    const due = streamWith(StreamState.Established, WINDOW / 2)
    due.stream.sendWindowUpdate()
    expect(due.frames.map((f) => f.length)).toEqual([WINDOW / 2])
  })

  it('an update that carries a flag (a new stream\'s ACK) goes out at once, used window or not', () => {
    const opening = streamWith(StreamState.SYNReceived, 0)
    opening.stream.sendWindowUpdate()
    expect(opening.frames).toHaveLength(1)
    expect(opening.frames[0].flag).not.toBe(0)
  })
})
