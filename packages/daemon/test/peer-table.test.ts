import { describe, expect, it } from 'vitest'
import type { Logger } from '../src/logger.js'
import type { MlpNode } from '../src/net/node.js'
import { MAX_SEEN_PEERS, PeerTable } from '../src/net/peers.js'

/** Just what PeerTable's connect bookkeeping touches of a node: its events and who is connected. */
function fakeNode (connected: Set<string>): MlpNode {
  const events = new EventTarget()
  return Object.assign(events, { getPeers: () => [...connected].map((id) => ({ toString: () => id })) }) as unknown as MlpNode
}

const quiet = { info: () => {}, warn: () => {}, debug: () => {}, error: () => {} } as unknown as Logger

describe('the peers seen since start', () => {
  it('are bounded: new identities push out the oldest disconnected ones, never a connected one', () => {
    const connected = new Set(['p0', 'p5'])
    const node = fakeNode(connected)
    const table = new PeerTable({ node, log: quiet, remembered: () => new Set(), traffic: () => ({ bytesSent: 0, bytesReceived: 0 }) })
    table.start()
    const connect = (id: string): void => { node.dispatchEvent(new CustomEvent('peer:connect', { detail: { toString: () => id } })) }
    for (let i = 0; i < MAX_SEEN_PEERS + 500; i++) connect(`p${i}`)
    const seen = table.seenIds()
    expect(seen).toHaveLength(MAX_SEEN_PEERS)
    // the connected old ones stay, the other oldest went, the newest are all there
    expect(seen).toContain('p0')
    expect(seen).toContain('p5')
    expect(seen).not.toContain('p1')
    expect(seen).not.toContain('p501')
    expect(seen).toContain('p502')
    expect(seen).toContain(`p${MAX_SEEN_PEERS + 499}`)
    // a reconnect makes a peer newest again
    connect('p502')
    expect(table.seenIds().at(-1)).toBe('p502')
    table.stop()
  })
})
