import { spawn } from 'node:child_process'
import { randomBytes, randomUUID } from 'node:crypto'
import { chmodSync, existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import * as dagPb from '@ipld/dag-pb'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { multiaddr } from '@multiformats/multiaddr'
import { UnixFS } from 'ipfs-unixfs'
import type { CID } from 'multiformats/cid'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { EXCHANGE_PROTOCOL, MAX_FRAME_BYTES, MsgType } from '@mlp/proto'
import { EXEC_PROTOCOL } from '../packages/daemon/src/exec/protocol.js'
import { createNode, type MlpNode } from '../packages/daemon/src/net/node.js'
import { channel } from '../packages/daemon/src/net/streams.js'
import { DAG_PB_CODEC, RAW_CODEC } from '../packages/daemon/src/store/constants.js'
import { cidOf } from '../packages/daemon/src/store/hash.js'
import { openStore } from '../packages/daemon/src/store/index.js'
import { MLP_BIN, alive, mlp, mlpJson, tempDir, waitFor } from './helpers/cli.js'
import { DaemonPool, type TestDaemon } from './helpers/daemons.js'
import { newProject, sha256, writeRandom } from './helpers/project.js'

// Work a peer or a pushed commit can make a daemon do must be bounded: DAG
// "bombs" (a few blocks linking each other thousands of times), pipelines
// that expand to millions of stages, oversized pipeline files, a world-
// writable MLP_HOME, job ids that are paths.
const SWARM_HEX = randomBytes(32).toString('hex')
const SWARM_KEY = `/key/swarm/psk/1.0.0/\n/base16/\n${SWARM_HEX}\n`
const pool = new DaemonPool()
let seed: TestDaemon
let fetcher: TestDaemon

/** A home holding the test network's swarm key, so its daemon is everyone's teammate. */
async function teamHome (): Promise<string> {
  const home = await pool.home()
  writeFileSync(join(home, 'swarm.key'), SWARM_KEY, { mode: 0o600 })
  return home
}

/** A libp2p node of the test network, for speaking protocols directly. */
async function testNode (): Promise<MlpNode> {
  return await createNode({ privateKey: await generateKeyPair('Ed25519'), listen: ['/ip4/127.0.0.1/tcp/0'], mdns: false, swarmKey: new TextEncoder().encode(SWARM_KEY) })
}

function pbNode (data: UnixFS, links: dagPb.PBLink[]): { cid: CID, bytes: Uint8Array } {
  const bytes = dagPb.encode({ Data: data.marshal(), Links: links })
  return { cid: cidOf(DAG_PB_CODEC, bytes), bytes }
}

/**
 * A UnixFS file of `levels` file nodes above one raw leaf, each node linking
 * the one below `fanout` times: levels + 1 unique blocks, fanout^levels
 * leaves. A legitimate (if silly) file: its bytes are the leaf repeated.
 */
function dagBomb (levels: number, fanout: number): Array<{ cid: CID, bytes: Uint8Array }> {
  const leafBytes = randomBytes(16)
  const blocks: Array<{ cid: CID, bytes: Uint8Array }> = [{ cid: cidOf(RAW_CODEC, leafBytes), bytes: new Uint8Array(leafBytes) }]
  let size = BigInt(leafBytes.length)
  let tsize = leafBytes.length
  for (let level = 0; level < levels; level++) {
    const below = blocks[blocks.length - 1]
    const node = pbNode(new UnixFS({ type: 'file', blockSizes: Array.from({ length: fanout }, () => size) }), Array.from({ length: fanout }, () => ({ Hash: below.cid, Tsize: tsize })))
    blocks.push(node)
    size *= BigInt(fanout)
    tsize = node.bytes.length + fanout * tsize
  }
  return blocks
}

/** Puts blocks into a stopped daemon's store. */
async function plant (home: string, blocks: Array<{ cid: CID, bytes: Uint8Array }>): Promise<void> {
  const store = await openStore(join(home, 'store'))
  try {
    await store.blockstore.putMany(blocks.map((b) => [b.cid, b.bytes]))
    await store.blockstore.commit()
  } finally {
    await store.close()
  }
}

async function answers (d: TestDaemon): Promise<void> {
  expect(alive(d.pid)).toBe(true)
  expect((await mlpJson(d.home, ['id'])).peerId).toBe(d.peerId)
}

/** The one-line error a failed command printed. */
function oneLineError (r: { code: number, stderr: string }): string {
  expect(r.code).not.toBe(0)
  const lines = r.stderr.trim().split('\n')
  expect(lines).toHaveLength(1)
  return lines[0]
}

let bomb: Array<{ cid: CID, bytes: Uint8Array }>
beforeAll(async () => {
  // the seed holds a three-level bomb: 4 blocks, 1024^3 leaves (a 16 GiB file)
  bomb = dagBomb(3, 1024)
  const seedHome = await teamHome()
  await plant(seedHome, bomb)
  seed = await pool.start(seedHome)
  fetcher = await pool.start(await teamHome())
  await mlpJson(fetcher.home, ['peers', 'add', seed.addrs[0]])
  await mlpJson(seed.home, ['share', bomb[bomb.length - 1].cid.toString()])
})
afterAll(async () => { await pool.cleanup() })

describe('DAG bombs', () => {
  it('a fetch of a 4-block bomb visits 4 blocks, and a second fetch of it (all present) does too', async () => {
    const root = bomb[bomb.length - 1].cid.toString()
    const [first] = await mlpJson(fetcher.home, ['fetch', root])
    expect(first).toMatchObject({ root, blocks: 4, alreadyHad: 0 })
    const [again] = await mlpJson(fetcher.home, ['fetch', root])
    expect(again).toMatchObject({ root, blocks: 0, alreadyHad: 4 })
    // gc walks it too, once per block; the pinned bomb stays, whole
    const gc = await mlpJson(fetcher.home, ['gc'])
    expect(gc.reachableBlocks).toBe(4)
    expect(await mlpJson(fetcher.home, ['verify'])).toMatchObject({ corrupt: [], missing: [] })
    await answers(fetcher)
    await answers(seed)
  })

  it('an ordinary multi-level file still fetches whole (positive control)', async () => {
    const proj = await newProject(seed.home)
    // > 1024 chunks of ~80 KiB: a file with two levels of nodes
    writeRandom(join(proj, 'big.bin'), 100_000_000)
    const sum = sha256(join(proj, 'big.bin'))
    const [shared] = await mlpJson(seed.home, ['share', 'big.bin'], { cwd: proj })
    const out = join(await tempDir(), 'big.bin')
    const [r] = await mlpJson(fetcher.home, ['fetch', shared.cid, '-o', out])
    expect(r.blocks).toBeGreaterThan(1024)
    expect(sha256(out)).toBe(sum)
    expect(await mlpJson(fetcher.home, ['verify'])).toMatchObject({ corrupt: [], missing: [] })
  })
})

describe('a fetch waiting on the network', () => {
  it('holds no store lock: gc and the API answer meanwhile, and stopping the command stops the fetch', async () => {
    // a peer that has everything and sends nothing
    const silent = await testNode()
    let wants = 0
    let closed = false
    await silent.handle(EXCHANGE_PROTOCOL, async (stream) => {
      const ch = channel(stream, { maxFrameBytes: MAX_FRAME_BYTES })
      // only the stream the blocks were asked on counts: HAS may come on another
      let asked = false
      try {
        for await (const msg of ch.messages()) {
          if (msg.type === MsgType.Has) await ch.send({ type: MsgType.Have, req: msg.req, have: msg.cids.map(() => true) })
          if (msg.type === MsgType.Want) {
            asked = true
            wants++
          }
        }
      } catch {
        // the fetcher hung up
      }
      if (asked) closed = true
    })
    try {
      await mlpJson(fetcher.home, ['peers', 'add', silent.getMultiaddrs()[0].toString()])
      const cid = cidOf(RAW_CODEC, randomBytes(100)).toString()
      const child = spawn(process.execPath, [MLP_BIN, 'fetch', cid], { env: { ...process.env, NODE_ENV: undefined, MLP_HOME: fetcher.home }, stdio: 'ignore' })
      const exited = new Promise((resolve) => child.on('close', resolve))
      await waitFor('the fetch to ask the silent peer for the block', () => wants > 0)
      // the fetch now waits on the peer (30 s before it gives up on it): the store is free
      const gc = await mlp(fetcher.home, ['gc'])
      expect(gc.code).toBe(0)
      await answers(fetcher)
      expect(closed).toBe(false)
      child.kill('SIGINT')
      await exited
      // the daemon dropped the fetch: its stream to the peer is closed long before the peer's idle timeout
      await waitFor('the fetch to close its stream', () => closed, 15_000)
      await answers(fetcher)
    } finally {
      await silent.stop()
    }
  })
})

describe('free-disk floor', () => {
  it('a fetch that would go below the floor fails with a one-line disk-full error; the daemon stays up', async () => {
    const d = await pool.start(await teamHome(), undefined, { MLP_FREE_FLOOR_BYTES: String(Number.MAX_SAFE_INTEGER) })
    await mlpJson(d.home, ['peers', 'add', seed.addrs[0]])
    const proj = await newProject(seed.home)
    writeRandom(join(proj, 'floor.bin'), 2_000_000)
    const [shared] = await mlpJson(seed.home, ['share', 'floor.bin'], { cwd: proj })
    const line = oneLineError(await mlp(d.home, ['fetch', shared.cid]))
    expect(line).toContain('disk full')
    expect(line).toContain('MiB free')
    await answers(d)
    expect(await mlpJson(d.home, ['verify'])).toMatchObject({ corrupt: [], missing: [] })
  })
})

describe('pipelines that expand without bound', () => {
  const matrix8x10 = 'stages:\n  grid:\n    matrix:\n' + Array.from({ length: 8 }, (_, i) => `      k${i}: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]\n`).join('') + '    cmd: echo\n'
  const foreach20k = `stages:\n  many:\n    foreach: [${Array.from({ length: 20_000 }, (_, i) => i).join(', ')}]\n    do:\n      cmd: echo\n`

  it.each([
    ['an 8 x 10 matrix', matrix8x10, "stage 'grid': expands to 100000000 stages; mlp allows at most 10000 stages per pipeline"],
    ['a 20,000-item foreach', foreach20k, "stage 'many': expands to 20000 stages; mlp allows at most 10000 stages per pipeline"]
  ])('%s: dag and status fail in one line naming the stage and the count; the daemon answers', async (_what, yaml, message) => {
    const proj = await newProject(fetcher.home)
    writeFileSync(join(proj, 'mlp.yaml'), yaml)
    expect(oneLineError(await mlp(fetcher.home, ['dag'], { cwd: proj }))).toContain(message)
    expect(oneLineError(await mlp(fetcher.home, ['status'], { cwd: proj }))).toContain(message)
    await answers(fetcher)
  })

  it('a 3 x 3 matrix loads (positive control)', async () => {
    const proj = await newProject(fetcher.home)
    writeFileSync(join(proj, 'mlp.yaml'), 'stages:\n  grid:\n    matrix:\n      a: [1, 2, 3]\n      b: [x, y, z]\n    cmd: echo\n')
    const dag = await mlpJson(fetcher.home, ['dag'], { cwd: proj })
    expect(dag.stages).toHaveLength(9)
    expect(dag.stages[0].name).toBe('grid@1-x')
  })
})

describe('oversized pipeline files', () => {
  it('an mlp.yaml over 4 MiB is refused in one line; the daemon answers; a normal one loads', async () => {
    const proj = await newProject(fetcher.home)
    writeFileSync(join(proj, 'mlp.yaml'), 'stages:\n  a:\n    cmd: echo\n' + `# ${'x'.repeat(78)}\n`.repeat(60_000))
    expect(oneLineError(await mlp(fetcher.home, ['dag'], { cwd: proj }))).toContain('MiB is over the 4 MiB mlp reads in a pipeline, params or lock file')
    await answers(fetcher)
    writeFileSync(join(proj, 'mlp.yaml'), 'stages:\n  a:\n    cmd: echo\n')
    expect((await mlpJson(fetcher.home, ['dag'], { cwd: proj })).stages).toHaveLength(1)
  })

  it('an oversized params file is refused in one line too', async () => {
    const proj = await newProject(fetcher.home)
    writeFileSync(join(proj, 'mlp.yaml'), 'stages:\n  a:\n    cmd: echo\n')
    writeFileSync(join(proj, 'params.yaml'), `k: ${'1'.repeat(5 * 1024 * 1024)}\n`)
    expect(oneLineError(await mlp(fetcher.home, ['dag'], { cwd: proj }))).toContain('params.yaml')
    await answers(fetcher)
  })
})

describe('MLP_HOME permissions', () => {
  it('a home open to others (0777) is made 0700 at start, and a group-readable identity key 0600', async () => {
    const home = await pool.home()
    chmodSync(home, 0o777)
    const d = await pool.start(home)
    expect(statSync(home).mode & 0o777).toBe(0o700)
    expect(readFileSync(join(home, 'daemon.log'), 'utf8')).toContain('MLP_HOME was open to other users; setting mode 0700')
    await mlp(home, ['daemon', 'stop'])
    chmodSync(join(home, 'identity.key'), 0o644)
    const again = await pool.start(home)
    expect(again.peerId).toBe(d.peerId)
    expect(statSync(join(home, 'identity.key')).mode & 0o777).toBe(0o600)
  })

  it('a private home stays 0700 (positive control)', () => {
    expect(statSync(fetcher.home).mode & 0o777).toBe(0o700)
    expect(readFileSync(join(fetcher.home, 'daemon.log'), 'utf8')).not.toContain('MLP_HOME was open')
  })
})

describe('job ids from the wire', () => {
  /** Sends one exec request from `node` to `d`; resolves the events it answers with. */
  async function exec (node: MlpNode, d: TestDaemon, request: unknown): Promise<Array<{ event: string, message?: string }>> {
    const stream = await node.dialProtocol(multiaddr(d.addrs[0]), EXEC_PROTOCOL)
    const ch = channel(stream, { maxFrameBytes: MAX_FRAME_BYTES })
    await ch.send({ type: MsgType.Json, req: 0, json: JSON.stringify(request) })
    const events: Array<{ event: string, message?: string }> = []
    try {
      for await (const msg of ch.messages()) {
        if (msg.type === MsgType.Json) events.push(JSON.parse(msg.json))
      }
    } catch {
      // the executor closed the stream
    }
    return events
  }

  function spec (id: string, cmd: string): Record<string, unknown> {
    return { id, stage: 'probe', cmd: [cmd], wdir: '.', inputs: [], outs: [{ path: 'out.txt', cache: true }], gpu: 0, key: randomBytes(32).toString('hex') }
  }

  it('`../..` ids are refused for run and cancel; nothing outside the jobs dir is made or removed', async () => {
    const node = await testNode()
    try {
      const me = node.peerId.toString()
      const trust = await mlp(fetcher.home, ['trust', 'add', me, '--run'])
      expect(trust.code).toBe(0)
      // MLP_HOME/jobs/../../<name> is a sibling of MLP_HOME
      const outside = dirname(fetcher.home)
      const victim = join(outside, `bw-victim-${randomUUID()}`)
      mkdirSync(victim)
      writeFileSync(join(victim, 'keep.txt'), 'mine\n')
      const planted = `bw-planted-${randomUUID()}`
      try {
        for (const id of [`../../${victim.split('/').pop() as string}`, `../../${planted}`, '/tmp', '', 'ABC', `${randomUUID()}/..`]) {
          const events = await exec(node, fetcher, { op: 'run', spec: spec(id, `echo x > out.txt && touch ${join(outside, planted)}-ran`) })
          expect(events.map((e) => e.event)).toEqual(['refused'])
        }
        const cancel = await exec(node, fetcher, { op: 'cancel', id: `../../${victim.split('/').pop() as string}` })
        expect(cancel.map((e) => e.event)).toEqual(['failed'])
        expect(readFileSync(join(victim, 'keep.txt'), 'utf8')).toBe('mine\n')
        expect(existsSync(join(outside, planted))).toBe(false)
        expect(existsSync(`${join(outside, planted)}-ran`)).toBe(false)
        // the local API refuses such ids as well
        expect(oneLineError(await mlp(fetcher.home, ['logs', '../../x']))).toContain('is not a job id')
      } finally {
        rmSync(victim, { recursive: true, force: true })
      }
      await answers(fetcher)
    } finally {
      await node.stop()
    }
  })

  it('a job from a real requester (ids as daemons make them) still runs (positive control)', async () => {
    expect((await mlp(fetcher.home, ['trust', 'add', seed.peerId, '--run'])).code).toBe(0)
    expect((await mlp(seed.home, ['trust', 'add', fetcher.peerId, '--results'])).code).toBe(0)
    const proj = await newProject(seed.home)
    writeFileSync(join(proj, 'in.txt'), 'input\n')
    writeFileSync(join(proj, 'mlp.yaml'), `stages:\n  probe:\n    cmd: cat in.txt > out.txt\n    deps: [in.txt]\n    outs: [out.txt]\n    run_on: ${fetcher.peerId}\n`)
    const r = await mlp(seed.home, ['repro'], { cwd: proj })
    // on failure, the end of both daemons' logs says why
    const logs = (): string => [seed, fetcher].map((d) => `${d.home} alive=${String(alive(d.pid))}\n${readFileSync(join(d.home, 'daemon.log'), 'utf8').split('\n').slice(-15).join('\n')}`).join('\n')
    expect(r.code, `${r.stderr}\n${r.code === 0 ? '' : logs()}`).toBe(0)
    expect(r.stdout).toContain(`ran on ${fetcher.peerId}`)
    expect(readFileSync(join(proj, 'out.txt'), 'utf8')).toBe('input\n')
    const jobs = await mlpJson<Array<{ id: string, role: string, state: string, peer: string }>>(fetcher.home, ['jobs'])
    const job = jobs.find((j) => j.role === 'executor' && j.peer === seed.peerId)
    expect(job?.state).toBe('done')
    expect(job?.id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/)
  })
})
