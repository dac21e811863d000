import { randomBytes } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { connect, type Socket } from 'node:net'
import { join } from 'node:path'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { multiaddr } from '@multiformats/multiaddr'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { EXCHANGE_PROTOCOL, MAX_FRAME_BYTES, MsgType } from '@mlp/proto'
import { createNode, type MlpNode } from '../packages/daemon/src/net/node.js'
import { channel } from '../packages/daemon/src/net/streams.js'
import { alive, mlp, mlpJson, tempDir, waitFor } from './helpers/cli.js'
import { DaemonPool, type TestDaemon } from './helpers/daemons.js'
import { newProject, sha256, writeRandom } from './helpers/project.js'

// Test peers written to misbehave against a real daemon. The daemon under
// attack closes idle streams after 1 s here (30 s by default).
const pool = new DaemonPool()
let target: TestDaemon
let attacker: MlpNode
beforeAll(async () => {
  target = await pool.start(undefined, undefined, { MLP_STREAM_IDLE_MS: '1000' })
  // with the pool's swarm key: a hostile teammate, the peer that may ask the most of the daemon
  attacker = await createNode({ privateKey: await generateKeyPair('Ed25519'), listen: ['/ip4/127.0.0.1/tcp/0'], mdns: false, swarmKey: pool.swarmKeyBytes() })
})
afterAll(async () => {
  await attacker?.stop()
  await pool.cleanup()
})

function rssMb (pid: number): number {
  return Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) / 1024
}

/** Reads a stream to its end; resolves how it ended. */
async function drain (stream: AsyncIterable<unknown>): Promise<'ended' | 'aborted'> {
  try {
    for await (const _ of stream) void _
    return 'ended'
  } catch {
    return 'aborted'
  }
}

async function stillServes (): Promise<void> {
  expect(alive(target.pid)).toBe(true)
  expect((await mlpJson(target.home, ['id'])).peerId).toBe(target.peerId)
}

describe('hostile peers', () => {
  it('an oversized frame closes the stream; the daemon stays up', async () => {
    const stream = await attacker.dialProtocol(multiaddr(target.addrs[0]), EXCHANGE_PROTOCOL)
    const header = new Uint8Array(4)
    new DataView(header.buffer).setUint32(0, MAX_FRAME_BYTES * 50)
    stream.send(header)
    stream.send(randomBytes(1000))
    expect(await drain(stream)).toBe('aborted')
    await stillServes()
  })

  it('malformed messages close the stream', async () => {
    for (const body of [randomBytes(3), Buffer.from([42, 0, 0, 0, 1, 9, 9]), Buffer.from([MsgType.Want, 0, 0, 0, 1, 0xff, 0xff, 1])]) {
      const stream = await attacker.dialProtocol(multiaddr(target.addrs[0]), EXCHANGE_PROTOCOL)
      const header = new Uint8Array(4)
      new DataView(header.buffer).setUint32(0, body.length)
      stream.send(header)
      stream.send(body)
      expect(await drain(stream)).toBe('aborted')
    }
    await stillServes()
  })

  it('every protocol of the daemon drops oversized and malformed frames', async () => {
    for (const protocol of [EXCHANGE_PROTOCOL, '/mlp/runcache/1.0.0', '/mlp/replicate/1.0.0', '/mlp/exec/1.0.0', '/mlp/resources/1.0.0']) {
      const big = await attacker.dialProtocol(multiaddr(target.addrs[0]), protocol)
      const header = new Uint8Array(4)
      new DataView(header.buffer).setUint32(0, MAX_FRAME_BYTES + 1)
      big.send(header)
      expect(await drain(big), `${protocol} oversized`).toBe('aborted')
      const junk = await attacker.dialProtocol(multiaddr(target.addrs[0]), protocol)
      const body = randomBytes(40)
      body[0] = 200
      const len = new Uint8Array(4)
      new DataView(len.buffer).setUint32(0, body.length)
      junk.send(len)
      junk.send(body)
      expect(await drain(junk), `${protocol} malformed`).toBe('aborted')
    }
    await stillServes()
  })

  it('an unknown protocol version is refused at negotiation', async () => {
    await expect(attacker.dialProtocol(multiaddr(target.addrs[0]), '/mlp/exchange/9.9.9')).rejects.toThrow()
    await stillServes()
  })

  it('a stream that never sends is closed (slowloris), on every protocol', async () => {
    for (const protocol of [EXCHANGE_PROTOCOL, '/mlp/runcache/1.0.0', '/mlp/replicate/1.0.0', '/mlp/exec/1.0.0', '/mlp/resources/1.0.0']) {
      const stream = await attacker.dialProtocol(multiaddr(target.addrs[0]), protocol)
      // nothing sent: the daemon hangs up after its idle timeout
      expect(await drain(stream), protocol).toBe('aborted')
    }
    await stillServes()
  })

  it('a flood of WANTs and of half-open connections: memory stays bounded and an honest fetch completes', async () => {
    const proj = await newProject(target.home)
    writeRandom(join(proj, 'data.bin'), 20_000_000)
    const sum = sha256(join(proj, 'data.bin'))
    const [shared] = await mlpJson(target.home, ['share', 'data.bin'], { cwd: proj })
    const before = rssMb(target.pid)

    // 200 WANTs of 4096 unknown ids each, never reading the answers
    const stream = await attacker.dialProtocol(multiaddr(target.addrs[0]), EXCHANGE_PROTOCOL)
    const ch = channel(stream, { maxFrameBytes: MAX_FRAME_BYTES })
    const ids = Array.from({ length: 4096 }, () => Uint8Array.from([0x01, 0x55, 0x1e, 0x20, ...randomBytes(32)]))
    const flood = (async () => {
      for (let i = 0; i < 200; i++) await Promise.race([ch.send({ type: MsgType.Want, req: i, cids: ids }), new Promise((resolve) => setTimeout(resolve, 2000))])
    })()
    // 300 TCP connections that never finish a handshake
    const port = Number(target.addrs[0].split('/')[4])
    const sockets: Socket[] = Array.from({ length: 300 }, () => connect(port, '127.0.0.1').on('error', () => {}))

    const honest = await pool.start()
    // while the flood holds the handshake slots an honest dial may be turned away: it retries, as peering does
    await waitFor('the honest peer to get in', async () => (await mlp(honest.home, ['peers', 'add', target.addrs[0]])).code === 0, 45_000)
    const out = join(await tempDir(), 'out.bin')
    await mlpJson(honest.home, ['fetch', shared.cid, '-o', out])
    expect(sha256(out)).toBe(sum)

    await flood
    ch.abort(new Error('done'))
    for (const s of sockets) s.destroy()
    await stillServes()
    expect(rssMb(target.pid) - before).toBeLessThan(250)
    const r = await mlp(target.home, ['verify'])
    expect(r.code).toBe(0)
  })
})
