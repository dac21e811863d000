import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { generateKeyPair } from '@libp2p/crypto/keys'
import type { Stream } from '@libp2p/interface'
import { peerIdFromPrivateKey, peerIdFromString } from '@libp2p/peer-id'
import { multiaddr } from '@multiformats/multiaddr'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { MAX_FRAME_BYTES, MsgType, type ExpRecord } from '@mlp/proto'
import { EXP_PROTOCOL } from '../packages/daemon/src/exp/constants.js'
import { signRecord } from '../packages/daemon/src/exp/record.js'
import { createNode, type MlpNode } from '../packages/daemon/src/net/node.js'
import { channel } from '../packages/daemon/src/net/streams.js'
import { mlpJson, waitFor } from './helpers/cli.js'
import { DaemonPool, type TestDaemon } from './helpers/daemons.js'
import { git, GIT_ENV, LISTEN, projectId, rows } from './helpers/exp.js'
import { newProject } from './helpers/project.js'

// `mlp exp show` answers from the records its daemon keeps, and asks a
// connected teammate only while no exchange with it has completed since it
// connected (it became a teammate after connecting): once exchanged, what
// the teammate makes is pushed, and `exp show` does not wait on it again.
// The teammate here is a bare libp2p node speaking the experiment protocol,
// so the test counts every time the daemon asks it.

const pool = new DaemonPool()
let a: TestDaemon
let mate: MlpNode
const nodes: MlpNode[] = []

beforeAll(async () => {
  a = await pool.start(undefined, LISTEN, GIT_ENV, { team: false })
})
afterAll(async () => {
  for (const n of nodes) await n.stop()
  await pool.cleanup()
})

/** Answers the daemon's exchanges with `records()`, counting them. */
function serveExchanges (node: MlpNode, records: () => ExpRecord[]): { asked: number } {
  const count = { asked: 0 }
  void node.handle(EXP_PROTOCOL, async (stream: Stream) => {
    count.asked++
    const ch = channel(stream, { maxFrameBytes: MAX_FRAME_BYTES })
    try {
      for await (const msg of ch.messages()) {
        if (msg.type !== MsgType.Json) continue
        const m = JSON.parse(msg.json) as { op: string, want?: boolean }
        if (m.op !== 'end') continue
        if (m.want === true) await ch.send({ type: MsgType.Json, req: 0, json: JSON.stringify({ op: 'records', records: records() }) })
        await ch.send({ type: MsgType.Json, req: 0, json: JSON.stringify({ op: 'end', want: false }) })
        break
      }
      await ch.close()
    } catch {
      // the daemon hung up
    }
  })
  return count
}

/** Lines of `d`'s log with message `msg` about `peer`. */
function peerEvents (d: TestDaemon, msg: string, peer: string): number {
  return readFileSync(join(d.home, 'daemon.log'), 'utf8').split('\n').filter((l) => l.includes(`"msg":"${msg}"`) && l.includes(peer)).length
}

/** Pushes `records` to the daemon as a teammate does when it makes one (no answer asked). */
async function push (node: MlpNode, d: TestDaemon, records: ExpRecord[]): Promise<void> {
  const ch = channel(await node.dialProtocol(multiaddr(d.addrs[0]), EXP_PROTOCOL), { maxFrameBytes: MAX_FRAME_BYTES })
  await ch.send({ type: MsgType.Json, req: 0, json: JSON.stringify({ op: 'records', records }) })
  await ch.send({ type: MsgType.Json, req: 0, json: JSON.stringify({ op: 'end', want: false }) })
  await ch.close()
}

describe('exp show and teammates already exchanged', () => {
  it('asks a teammate added after connecting once, then answers from what it keeps; pushes and reconnects bring new records', async () => {
    const proj = await newProject(a.home)
    writeFileSync(join(proj, 'params.yaml'), 'lr: 0.1\n')
    git(proj, ['add', '-A'])
    git(proj, ['commit', '-q', '-m', 'init'])
    const base = git(proj, ['rev-parse', 'HEAD']).trim()
    const key = await generateKeyPair('Ed25519')
    mate = await createNode({ privateKey: key, listen: ['/ip4/127.0.0.1/tcp/0'], mdns: false })
    nodes.push(mate)
    const mateId = peerIdFromPrivateKey(key).toString()
    const made: ExpRecord[] = []
    const record = async (name: string): Promise<ExpRecord> => {
      const now = new Date().toISOString()
      const r = await signRecord({ v: 1, project: projectId(proj), author: mateId, name, state: 'done', base, params: [], metrics: [{ file: 'metrics.json', key: 'acc', value: 0.5 }], locks: [], ranOn: {}, startedAt: now, durationMs: 1, at: now }, key)
      made.push(r)
      return r
    }
    const served = serveExchanges(mate, () => made)
    const names = async (): Promise<string[]> => (await rows(a, proj)).map((r) => r.name).sort()

    // connected first, a teammate only afterwards: the connect brought no exchange
    await record('before-team')
    await mate.dial(multiaddr(a.addrs[0]))
    await mlpJson(a.home, ['team', 'add', mateId])
    expect(served.asked).toBe(0)
    // so exp show asks it, once, and lists its record
    expect(await names()).toEqual(['before-team'])
    expect(served.asked).toBe(1)
    // exchanged: later calls answer from the records kept here
    expect(await names()).toEqual(['before-team'])
    expect(await names()).toEqual(['before-team'])
    expect(served.asked).toBe(1)

    // a record made while connected is pushed, and listed without asking
    await push(mate, a, [await record('while-connected')])
    expect(await names()).toEqual(['before-team', 'while-connected'])
    expect(served.asked).toBe(1)

    // one made while away (not pushed) comes with the exchange of the next connection
    await mate.hangUp(peerIdFromString(a.peerId))
    // read from its log: asking the daemon (`mlp peers` pings and asks resources) could dial the teammate again
    await waitFor('the daemon to see the teammate go', () => peerEvents(a, 'peer disconnected', mateId) >= 1)
    await record('while-away')
    await mate.dial(multiaddr(a.addrs[0]))
    await waitFor('the reconnect to be exchanged', async () => (await names()).includes('while-away'))
    const asked = served.asked
    expect(asked).toBeGreaterThanOrEqual(2)
    // and once exchanged again, it is not asked again
    expect(await names()).toEqual(['before-team', 'while-away', 'while-connected'])
    expect(await names()).toEqual(['before-team', 'while-away', 'while-connected'])
    expect(served.asked).toBe(asked)
  }, 120_000)
})
