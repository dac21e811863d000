import { randomUUID } from 'node:crypto'
import { existsSync, mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromString } from '@libp2p/peer-id'
import { multiaddr } from '@multiformats/multiaddr'
import { MAX_FRAME_BYTES, MsgType, type WireMessage } from '@mlp/proto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { parse } from 'yaml'
import { EXEC_PROTOCOL, RESOURCES_PROTOCOL, type ExecEvent, type JobSpec } from '../packages/daemon/src/exec/protocol.js'
import { createNode, type MlpNode } from '../packages/daemon/src/net/node.js'
import { channel } from '../packages/daemon/src/net/streams.js'
import { RUNCACHE_PROTOCOL } from '../packages/daemon/src/pipeline/peer-runcache.js'
import { stageKey } from '../packages/daemon/src/pipeline/runcache.js'
import { alive, mlp, mlpJson, tempDir } from './helpers/cli.js'
import { DaemonPool, type TestDaemon } from './helpers/daemons.js'
import { newProject } from './helpers/project.js'

// A peer holding `--run` (a hand-made requester speaking the exec protocol)
// sends specs whose inputs hold symlinks: the executor daemon itself must
// neither read through them (params files) nor make directories through
// them (wdir, outs). Run cache entries and resources are told to teammates only.
const pool = new DaemonPool()
let exe: TestDaemon
let mallory: MlpNode
const nodes: MlpNode[] = []
beforeAll(async () => {
  exe = await pool.start()
  mallory = await testNode(pool.swarmKeyBytes())
  await mlpJson(exe.home, ['trust', 'add', mallory.peerId.toString(), '--run'])
  await mallory.dial(multiaddr(exe.addrs[0]))
})
afterAll(async () => {
  for (const n of nodes) await n.stop()
  await pool.cleanup()
})

async function testNode (swarmKey?: Uint8Array): Promise<MlpNode> {
  const node = await createNode({ privateKey: await generateKeyPair('Ed25519'), listen: ['/ip4/127.0.0.1/tcp/0'], mdns: false, swarmKey })
  nodes.push(node)
  return node
}

/** Shares directory `d` of a project on the executor (so its blocks are there) and returns its content id. */
async function inputDir (fill: (d: string) => void): Promise<string> {
  const proj = await newProject(exe.home)
  mkdirSync(join(proj, 'd'))
  fill(join(proj, 'd'))
  const [shared] = await mlpJson<Array<{ cid: string }>>(exe.home, ['share', 'd'], { cwd: proj })
  return shared.cid
}

/** Sends a job with input `d` = `cid`, keyed honestly, and returns the events up to the last. */
async function send (cid: string, job: { cmd: string[], wdir: string, outs: string[], params?: Record<string, Record<string, unknown>> }): Promise<ExecEvent[]> {
  const deps = [{ path: 'd', cid }]
  const params = job.params ?? {}
  const spec: JobSpec = { id: randomUUID(), stage: 's', cmd: job.cmd, wdir: job.wdir, inputs: deps, outs: job.outs.map((path) => ({ path, cache: true })), gpu: 0, deps, params, key: stageKey(job.cmd, deps.map((d) => ({ ...d, size: 0 })), params, job.outs) }
  const ch = channel(await mallory.dialProtocol(peerIdFromString(exe.peerId), EXEC_PROTOCOL), { maxFrameBytes: MAX_FRAME_BYTES })
  await ch.send({ type: MsgType.Json, req: 0, json: JSON.stringify({ op: 'run', spec }) })
  const events: ExecEvent[] = []
  for await (const msg of ch.messages()) {
    if (msg.type === MsgType.Json) events.push(JSON.parse(msg.json) as ExecEvent)
    if (events.some((e) => e.event === 'failed' || e.event === 'done' || e.event === 'refused')) break
  }
  await ch.close().catch(() => {})
  return events
}

/** The executor answers `mlp id` at once. */
async function answers (): Promise<void> {
  const started = Date.now()
  expect(alive(exe.pid)).toBe(true)
  expect((await mlpJson(exe.home, ['id'])).peerId).toBe(exe.peerId)
  expect(Date.now() - started).toBeLessThan(10_000)
}

describe('params files the executor reads to check a stage key', () => {
  it('a params file linked to /proc/self/pagemap or to a file outside the job is refused, and the daemon stays responsive', async () => {
    const outside = await tempDir('outside-')
    writeFileSync(join(outside, 'secret.json'), '{"x": 1}')
    const cid = await inputDir((d) => {
      symlinkSync('/proc/self/pagemap', join(d, 'p.json'))
      symlinkSync(join(outside, 'secret.json'), join(d, 's.json'))
    })
    for (const file of ['d/p.json', 'd/s.json']) {
      const started = Date.now()
      const events = await send(cid, { cmd: ['echo ran > o'], wdir: '.', outs: ['o'], params: { [file]: { x: 1 } } })
      expect(events.at(-1)).toEqual({ event: 'failed', message: expect.stringContaining(`params file '${file}' is not a file inside the job directory: refused`) })
      expect(Date.now() - started).toBeLessThan(15_000)
      await answers()
    }
    expect(existsSync(join(exe.home, 'jobs')) ? readdirSync(join(exe.home, 'jobs')) : []).toEqual([])
  }, 90_000)

  it('a job with a params file and a wdir that are its own runs (positive control)', async () => {
    const cid = await inputDir((d) => { writeFileSync(join(d, 'p.json'), '{"x": 1}') })
    const events = await send(cid, { cmd: ['cat ../p.json > ../out/o.txt'], wdir: 'd/run', outs: ['d/out/o.txt'], params: { '../p.json': { x: 1 } } })
    expect(events.at(-1)).toMatchObject({ event: 'done', outs: [expect.objectContaining({ path: 'd/out/o.txt' })] })
  }, 60_000)
})

describe('directories the executor makes for a job', () => {
  it('are never made through a symlink in the inputs (wdir, an out\'s parent) or one an earlier command left', async () => {
    const outside = await tempDir('outside-')
    const cid = await inputDir((d) => {
      symlinkSync(outside, join(d, 'l'))
      writeFileSync(join(d, 'f'), 'x\n')
    })
    const wdir = await send(cid, { cmd: ['true'], wdir: 'd/l/PLANTED/deep', outs: ['o'] })
    expect(wdir.at(-1)).toEqual({ event: 'failed', message: expect.stringContaining("wdir 'd/l/PLANTED/deep' goes through a symlink or a file in the job directory: refused") })
    const out = await send(cid, { cmd: ['true'], wdir: '.', outs: ['d/l/PLANTED2/o'] })
    expect(out.at(-1)).toEqual({ event: 'failed', message: expect.stringContaining("out 'd/l/PLANTED2/o' goes through a symlink or a file in the job directory: refused") })
    // the first command swaps the out's (just made) parent for a link out; the daemon checks again before the next
    const swapped = await send(cid, { cmd: [`rm -rf x && ln -s ${outside} x`, 'true'], wdir: '.', outs: ['x/PLANTED3/o'] })
    expect(swapped.at(-1)).toEqual({ event: 'failed', message: expect.stringContaining("out 'x/PLANTED3/o' goes through a symlink or a file in the job directory: refused") })
    expect(readdirSync(outside)).toEqual([])
    await answers()
  }, 90_000)
})

/** One request on `protocol`, and the reply (undefined when the stream is cut). */
async function ask (node: MlpNode, d: TestDaemon, protocol: string, msg: WireMessage): Promise<WireMessage | undefined> {
  const ch = channel(await node.dialProtocol(multiaddr(d.addrs[0]), protocol), { maxFrameBytes: MAX_FRAME_BYTES })
  try {
    await ch.send(msg)
    const { value } = await ch.messages().next()
    await ch.close()
    return value
  } catch {
    return undefined
  }
}

describe('what a daemon tells a stranger', () => {
  it('no run cache entry and no resources to a stranger; both to a teammate (positive control)', async () => {
    // an open network: without a swarm key, a peer is a stranger until added
    const open = await pool.start(undefined, undefined, undefined, { team: false })
    const proj = await newProject(open.home)
    writeFileSync(join(proj, 'in.txt'), 'private\n')
    writeFileSync(join(proj, 'mlp.yaml'), 'stages:\n  train:\n    cmd: echo secret > model.txt\n    deps: [in.txt]\n    outs: [model.txt]\n')
    const ran = await mlp(open.home, ['repro'], { cwd: proj })
    expect(ran.code, ran.stderr).toBe(0)
    // what anyone can compute from a public mlp.lock
    const s = (parse(readFileSync(join(proj, 'mlp.lock'), 'utf8')) as { stages: Record<string, { cmd: string | string[], deps?: Array<{ path: string, cid: string, size: number }>, outs?: Array<{ path: string }> }> }).stages.train
    const key = stageKey(Array.isArray(s.cmd) ? s.cmd : [s.cmd], s.deps ?? [], {}, (s.outs ?? []).map((o) => o.path))

    const stranger = await testNode()
    const miss = await ask(stranger, open, RUNCACHE_PROTOCOL, { type: MsgType.RunCache, req: 1, key })
    expect(miss).toMatchObject({ type: MsgType.Result, ok: false, message: '' })
    const unknownKey = await ask(stranger, open, RUNCACHE_PROTOCOL, { type: MsgType.RunCache, req: 1, key: 'f'.repeat(64) })
    expect(unknownKey).toEqual(miss)
    const res = await ask(stranger, open, RESOURCES_PROTOCOL, { type: MsgType.Json, req: 1, json: '{}' })
    expect(res?.type === MsgType.Json ? res.json : undefined).toBeUndefined()

    const mate = await testNode()
    await mlpJson(open.home, ['team', 'add', mate.peerId.toString()])
    const hit = await ask(mate, open, RUNCACHE_PROTOCOL, { type: MsgType.RunCache, req: 1, key })
    expect(hit).toMatchObject({ type: MsgType.Result, ok: true })
    expect(JSON.parse((hit as { message: string }).message)).toMatchObject({ ranOn: open.peerId, outs: [expect.objectContaining({ path: 'model.txt' })] })
    const offer = await ask(mate, open, RESOURCES_PROTOCOL, { type: MsgType.Json, req: 1, json: '{}' })
    expect(offer?.type).toBe(MsgType.Json)
    expect(JSON.parse((offer as { json: string }).json)).toHaveProperty('gpus')
  }, 90_000)
})
