import { afterAll, describe, expect, it } from 'vitest'
import { mlp, mlpJson, waitFor } from './helpers/cli.js'
import { DaemonPool, type TestDaemon } from './helpers/daemons.js'

const pool = new DaemonPool()
afterAll(async () => { await pool.cleanup() })

interface Peer { peerId: string, state: string, addrs: string[], latencyMs: number | null, remembered: boolean }

async function peerState (d: TestDaemon, peerId: string): Promise<Peer | undefined> {
  const peers = await mlpJson<Peer[]>(d.home, ['peers'])
  return peers.find((p) => p.peerId === peerId)
}

function portOf (addr: string): string {
  return addr.split('/')[4]
}

describe('peers', () => {
  it('connect, notice a stop, reconnect to remembered peers after restarts', async () => {
    const alice = await pool.start()
    const bob = await pool.start()

    const added = await mlpJson<Peer>(alice.home, ['peers', 'add', bob.addrs[0]])
    expect(added).toMatchObject({ peerId: bob.peerId, state: 'connected', remembered: true })

    const seenByAlice = await peerState(alice, bob.peerId)
    expect(seenByAlice).toMatchObject({ state: 'connected', remembered: true })
    expect(seenByAlice?.latencyMs).toBeTypeOf('number')
    await waitFor('bob to list alice', async () => (await peerState(bob, alice.peerId))?.state === 'connected')
    expect((await mlpJson(alice.home, ['daemon', 'status'])).connectedPeers).toBe(1)

    // bob goes away: alice notices
    await mlpJson(bob.home, ['daemon', 'stop'])
    await waitFor('alice to see bob disconnected', async () => (await peerState(alice, bob.peerId))?.state === 'disconnected')

    // bob comes back on the same port: alice redials him on her own
    const bob2 = await pool.start(bob.home, ['--listen', `/ip4/127.0.0.1/tcp/${portOf(bob.addrs[0])}`, '--no-mdns'])
    expect(bob2.peerId).toBe(bob.peerId)
    await waitFor('alice to reconnect to bob', async () => (await peerState(alice, bob.peerId))?.state === 'connected')

    // alice restarts: she dials her remembered peers at start
    await mlpJson(alice.home, ['daemon', 'stop'])
    const alice2 = await pool.start(alice.home)
    expect(alice2.peerId).toBe(alice.peerId)
    await waitFor('restarted alice to reconnect to bob', async () => (await peerState(alice2, bob.peerId))?.state === 'connected')
    await waitFor('bob to see alice again', async () => (await peerState(bob2, alice.peerId))?.state === 'connected')
  })

  it('bootstrap peers are dialed at start', async () => {
    const seed = await pool.start()
    const joiner = await pool.start(undefined, ['--listen', '/ip4/127.0.0.1/tcp/0', '--no-mdns', '--bootstrap', seed.addrs[0]])
    await waitFor('joiner to reach the bootstrap peer', async () => (await peerState(joiner, seed.peerId))?.state === 'connected')
  })

  it('peers add rejects bad addresses and dead peers, remembering nothing', async () => {
    const d = await pool.start()
    const bad = await mlp(d.home, ['peers', 'add', 'not-a-multiaddr'])
    expect(bad.code).not.toBe(0)
    expect(bad.stderr.trim()).toMatch(/^Error: invalid multiaddr 'not-a-multiaddr'/)

    const dead = await mlp(d.home, ['peers', 'add', '/ip4/127.0.0.1/tcp/1'])
    expect(dead.code).not.toBe(0)
    expect(dead.stderr.trim().split('\n')).toHaveLength(1)
    expect(dead.stderr).toContain('could not connect to /ip4/127.0.0.1/tcp/1')

    const self = await mlp(d.home, ['peers', 'add', d.addrs[0]])
    expect(self.code).not.toBe(0)
    expect(self.stderr).toContain("this daemon's own address")

    expect(await mlpJson(d.home, ['peers'])).toEqual([])
  })
})
