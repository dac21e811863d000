import { YamuxStream } from '@chainsafe/libp2p-yamux/stream'
import { describe, expect, it } from 'vitest'
import { guardYamuxWindowUpdates } from '../src/net/yamux-guard.js'

/** A yamux stream whose connection is gone: sending a frame throws as the library's does. */
function streamThatThrows (name: string): { sendWindowUpdate: () => void } {
  return Object.assign(Object.create(YamuxStream.prototype), {
    state: 0,
    recvWindow: 256 * 1024,
    recvWindowCapacity: 0,
    maxStreamWindowSize: 256 * 1024,
    epochStart: Date.now(),
    getRTT: () => -1,
    sendFrame: () => {
      const err = new Error('Cannot write to a stream that is closed')
      err.name = name
      throw err
    }
  })
}

describe('a window update for a connection that just closed', () => {
  guardYamuxWindowUpdates()

  it('is dropped, not thrown (it ran in a microtask and crashed the daemon)', () => {
    expect(() => { streamThatThrows('StreamStateError').sendWindowUpdate() }).not.toThrow()
  })

  it('positive control: any other error still surfaces', () => {
    expect(() => { streamThatThrows('TypeError').sendWindowUpdate() }).toThrow('Cannot write to a stream that is closed')
  })
})
