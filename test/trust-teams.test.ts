import { mkdirSync, readdirSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { multiaddr } from '@multiformats/multiaddr'
import { CID } from 'multiformats/cid'
import { afterAll, describe, expect, it } from 'vitest'
import { EXCHANGE_PROTOCOL, MAX_FRAME_BYTES, MsgType, type TeamListing, type WireMessage } from '@mlp/proto'
import { createNode, type MlpNode } from '../packages/daemon/src/net/node.js'
import { channel } from '../packages/daemon/src/net/streams.js'
import { mlp, mlpJson, tempDir } from './helpers/cli.js'
import { DaemonPool, type TestDaemon } from './helpers/daemons.js'
import { newProject, sha256, writeRandom } from './helpers/project.js'

// Teammates read any block and may push copies; strangers read only shared
// roots, walking down from them. Daemons here start without the pool's
// swarm key (an open network) unless a test says otherwise.
// several daemons and CLI runs each, on a shared 2-core machine
const TIMEOUT_MS = 180_000
const pool = new DaemonPool()
const nodes: MlpNode[] = []
// about a dozen daemons stop one after the other
afterAll(async () => {
  for (const n of nodes) await n.stop()
  await pool.cleanup()
}, 180_000)

interface Fetched { root: string, blocks: number, bytes: number, fromPeers: Record<string, { blocks: number, bytes: number }> }

async function openDaemon (): Promise<TestDaemon> {
  return await pool.start(undefined, undefined, undefined, { team: false })
}

async function connect (from: TestDaemon, to: TestDaemon): Promise<void> {
  await mlpJson(from.home, ['peers', 'add', to.addrs[0]])
}

function treeSums (dir: string, prefix = ''): Record<string, string> {
  const out: Record<string, string> = {}
  for (const name of readdirSync(dir).sort()) {
    const p = join(dir, name)
    if (statSync(p).isDirectory()) Object.assign(out, treeSums(p, `${prefix}${name}/`))
    else out[`${prefix}${name}`] = sha256(p)
  }
  return out
}

/** A project on `d` with a directory of two files (three levels: dir, file nodes, chunks), added but not shared. */
async function addedData (d: TestDaemon): Promise<{ proj: string, cid: string }> {
  const proj = await newProject(d.home)
  mkdirSync(join(proj, 'data'))
  writeRandom(join(proj, 'data', 'x.bin'), 1_500_000)
  writeRandom(join(proj, 'data', 'y.bin'), 1_500_000)
  const [added] = await mlpJson<Array<{ cid: string }>>(d.home, ['add', 'data'], { cwd: proj })
  return { proj, cid: added.cid }
}

/** A bare libp2p node speaking the exchange protocol itself: a stranger to every daemon here. */
async function strangerNode (): Promise<MlpNode> {
  const node = await createNode({ privateKey: await generateKeyPair('Ed25519'), listen: ['/ip4/127.0.0.1/tcp/0'], mdns: false })
  nodes.push(node)
  return node
}

/** Sends one request on a new stream to `d` and reads `answers` messages back. */
async function ask (node: MlpNode, d: TestDaemon, msg: WireMessage, answers: number): Promise<WireMessage[]> {
  const ch = channel(await node.dialProtocol(multiaddr(d.addrs[0]), EXCHANGE_PROTOCOL), { maxFrameBytes: MAX_FRAME_BYTES })
  await ch.send(msg)
  const out: WireMessage[] = []
  const it = ch.messages()
  for (let i = 0; i < answers; i++) {
    const { value, done } = await it.next()
    if (done === true) break
    out.push(value)
  }
  await ch.close()
  return out
}

async function has (node: MlpNode, d: TestDaemon, cid: string): Promise<boolean> {
  const [reply] = await ask(node, d, { type: MsgType.Has, req: 1, cids: [CID.parse(cid).bytes] }, 1)
  if (reply?.type !== MsgType.Have) throw new Error(`expected HAVE, got ${reply?.type}`)
  return reply.have[0]
}

/** BLOCK or MISSING, as the daemon answers a WANT of one id. */
async function want (node: MlpNode, d: TestDaemon, cid: string): Promise<'block' | 'missing'> {
  const [reply] = await ask(node, d, { type: MsgType.Want, req: 2, cids: [CID.parse(cid).bytes] }, 1)
  if (reply?.type === MsgType.Block) return 'block'
  if (reply?.type === MsgType.Missing) return 'missing'
  throw new Error(`expected BLOCK or MISSING, got ${reply?.type}`)
}

describe('strangers', () => {
  it('read only shared roots, walking down from them; unshare withdraws', async () => {
    const [a, b] = [await openDaemon(), await openDaemon()]
    const { proj, cid } = await addedData(a)
    await connect(b, a)

    // only added: no peer has it, as far as a stranger can tell
    const refused = await mlp(b.home, ['fetch', cid])
    expect(refused.code).not.toBe(0)
    expect(refused.stderr.trim().split('\n')).toHaveLength(1)
    expect(refused.stderr).toContain(`no peer has ${cid}`)
    const s = await strangerNode()
    expect(await has(s, a, cid)).toBe(false)
    expect(await want(s, a, cid)).toBe('missing')

    // positive control: the same stranger, once the root is shared
    expect((await mlpJson<Array<{ cid: string }>>(a.home, ['share', 'data'], { cwd: proj }))[0].cid).toBe(cid)
    expect((await mlpJson<Array<{ cid: string }>>(a.home, ['share', '--list'])).map((r) => r.cid)).toEqual([cid])
    expect(await has(s, a, cid)).toBe(true)
    // a block inside the shared DAG, asked cold (nothing served to this stranger links to it yet): refused
    const inner = (await mlpJson<Array<{ name: string, cid: string }>>(a.home, ['ls', cid])).find((e) => e.name === 'x.bin')?.cid as string
    expect(await has(s, a, inner)).toBe(false)
    expect(await want(s, a, inner)).toBe('missing')
    // once the root was served to it, what the root links to is served too
    expect(await want(s, a, cid)).toBe('block')
    expect(await has(s, a, inner)).toBe(true)
    expect(await want(s, a, inner)).toBe('block')

    // the whole DAG, fetched normally by a stranger daemon
    const out = join(await tempDir(), 'out')
    const [fetched] = await mlpJson<Fetched[]>(b.home, ['fetch', cid, '-o', out])
    // a dir node, two file nodes and their chunks: more than one stream's worth of walking
    expect(fetched.blocks).toBeGreaterThan(20)
    expect(fetched.fromPeers[a.peerId].blocks).toBe(fetched.blocks)
    expect(treeSums(out)).toEqual(treeSums(join(proj, 'data')))

    // withdrawn: a stranger on a new connection gets nothing again
    const [gone] = await mlpJson<Array<{ cid: string }>>(a.home, ['unshare', 'data'], { cwd: proj })
    expect(gone.cid).toBe(cid)
    expect(await mlpJson(a.home, ['share', '--list'])).toEqual([])
    const s2 = await strangerNode()
    expect(await has(s2, a, cid)).toBe(false)
    expect(await want(s2, a, cid)).toBe('missing')
    const again = await mlp(a.home, ['unshare', cid])
    expect(again.code).not.toBe(0)
    expect(again.stderr).toContain('not shared')
  }, TIMEOUT_MS)

  it('one WANT of many ids is answered id by id, each as its turn comes', async () => {
    const a = await openDaemon()
    const { proj, cid } = await addedData(a)
    await mlpJson(a.home, ['share', 'data'], { cwd: proj })
    const inner = (await mlpJson<Array<{ name: string, cid: string }>>(a.home, ['ls', cid])).find((e) => e.name === 'x.bin')?.cid as string
    // added, never shared: no walk from a shared root reaches it
    writeRandom(join(proj, 'secret.bin'), 100_000)
    const [secret] = await mlpJson<Array<{ cid: string }>>(a.home, ['add', 'secret.bin'], { cwd: proj })
    const s = await strangerNode()
    const ids = [inner, cid, inner, secret.cid].map((c) => CID.parse(c).bytes)
    const replies = await ask(s, a, { type: MsgType.Want, req: 3, cids: ids }, 4)
    // the inner node before the root was served: refused; the root; the same
    // inner node, granted by the root served just before it; the secret: refused
    expect(replies.map((r) => r.type)).toEqual([MsgType.Missing, MsgType.Block, MsgType.Block, MsgType.Missing])
    expect(replies.map((r) => 'cid' in r ? CID.decode(r.cid).toString() : '')).toEqual([inner, cid, inner, secret.cid])
  }, TIMEOUT_MS)
})

describe('teammates by `mlp team add`', () => {
  it('read data only added; a teammate of a teammate fetches what that one pulled', async () => {
    const [a, b, c] = [await openDaemon(), await openDaemon(), await openDaemon()]
    const { proj, cid } = await addedData(a)
    await mlpJson(a.home, ['team', 'add', b.peerId])
    await connect(b, a)
    await mlpJson(b.home, ['fetch', cid])

    // C is B's teammate and a stranger to A: it gets everything from B, nothing from A
    await mlpJson(b.home, ['team', 'add', c.peerId])
    await connect(c, a)
    await connect(c, b)
    const out = join(await tempDir(), 'out')
    const [fetched] = await mlpJson<Fetched[]>(c.home, ['fetch', cid, '-o', out])
    expect(treeSums(out)).toEqual(treeSums(join(proj, 'data')))
    expect(fetched.fromPeers[b.peerId].blocks).toBe(fetched.blocks)
    expect(fetched.fromPeers[a.peerId]?.blocks ?? 0).toBe(0)
  }, TIMEOUT_MS)

  it('team ls says how each peer is a teammate; team rm takes back only what team add gave', async () => {
    const [a, b, c] = [await openDaemon(), await openDaemon(), await openDaemon()]
    await mlpJson(a.home, ['team', 'add', b.peerId])
    await mlpJson(a.home, ['trust', 'add', c.peerId, '--run'])
    await connect(b, a)
    const team = await mlpJson<TeamListing>(a.home, ['team', 'ls'])
    expect(team.swarmKey).toBe(false)
    expect(team.members.map((m) => [m.peerId, m.via, m.connected])).toEqual([[b.peerId, ['added'], true], [c.peerId, ['run'], false]].sort((x, y) => (x[0] as string).localeCompare(y[0] as string)))
    const text = (await mlp(a.home, ['team', 'ls'])).stdout
    expect(text).toContain('swarm key: off')
    expect(text).toMatch(new RegExp(`${b.peerId}\\s+added\\s+connected`))
    expect(text).toMatch(new RegExp(`${c.peerId}\\s+run\\s+not connected`))

    expect((await mlpJson<TeamListing>(a.home, ['team', 'rm', b.peerId])).members.map((m) => m.peerId)).toEqual([c.peerId])
    const notAdded = await mlp(a.home, ['team', 'rm', c.peerId])
    expect(notAdded.code).not.toBe(0)
    expect(notAdded.stderr.trim().split('\n')).toHaveLength(1)
    expect(notAdded.stderr).toContain('through run')
    const bad = await mlp(a.home, ['team', 'add', 'not-a-peer'])
    expect(bad.code).not.toBe(0)
    expect(bad.stderr).toContain('is not a peer id')
  }, TIMEOUT_MS)
})

describe('push --to (copies kept for teammates)', () => {
  it('a stranger is refused and nothing is stored; a teammate is served', async () => {
    const [a, s] = [await openDaemon(), await openDaemon()]
    const { proj, cid } = await addedData(s)
    await connect(s, a)
    const refused = await mlp(s.home, ['push', '--to', a.peerId], { cwd: proj })
    expect(refused.code).not.toBe(0)
    expect(refused.stderr.trim().split('\n')).toHaveLength(1)
    expect(refused.stderr).toContain('keeps copies only for teammates')
    expect(refused.stderr).toContain(`mlp team add ${s.peerId}`)
    expect((await mlp(a.home, ['ls', cid])).code).not.toBe(0)

    // positive control: the same push once A counts S as a teammate
    await mlpJson(a.home, ['team', 'add', s.peerId])
    expect(await mlpJson(s.home, ['push', '--to', a.peerId], { cwd: proj })).toMatchObject({ to: a.peerId, replicated: true })
    expect((await mlpJson<Array<{ name: string }>>(a.home, ['ls', cid])).map((e) => e.name)).toEqual(['x.bin', 'y.bin'])
    const member = (await mlpJson<TeamListing>(a.home, ['team', 'ls'])).members.find((m) => m.peerId === s.peerId)
    expect(member?.replicaBytes).toBeGreaterThan(3_000_000)
  }, TIMEOUT_MS)

  it('over the quota, or under the free-disk floor, the copy is refused with a clear error', async () => {
    const [small, tight] = [await pool.home(), await pool.home()]
    writeFileSync(join(small, 'config.yaml'), 'replicaQuota: 1MiB\n')
    writeFileSync(join(tight, 'config.yaml'), 'replicaMinFree: 1000TiB\n')
    // the pool's swarm key: every daemon here is a teammate of the others
    const [q, f, t] = [await pool.start(small), await pool.start(tight), await pool.start()]
    const { proj } = await addedData(t)
    await connect(t, q)
    await connect(t, f)

    const over = await mlp(t.home, ['push', '--to', q.peerId], { cwd: proj })
    expect(over.code).not.toBe(0)
    expect(over.stderr.trim().split('\n')).toHaveLength(1)
    expect(over.stderr).toContain(`over ${t.peerId}'s quota`)
    expect(over.stderr).toContain('replicaQuota')
    const member = (await mlpJson<TeamListing>(q.home, ['team', 'ls'])).members.find((m) => m.peerId === t.peerId)
    expect(member).toMatchObject({ via: ['swarm-key'], replicaBytes: 0 })

    const full = await mlp(t.home, ['push', '--to', f.peerId], { cwd: proj })
    expect(full.code).not.toBe(0)
    expect(full.stderr).toContain('kept free')
  }, TIMEOUT_MS)

  it('a bad quota in config.yaml stops the daemon at start, naming the line', async () => {
    const home = await pool.home()
    writeFileSync(join(home, 'config.yaml'), 'mdns: false\nreplicaQuota: lots\n')
    const r = await mlp(home, ['daemon', 'start', '--listen', '/ip4/127.0.0.1/tcp/0', '--no-mdns'])
    expect(r.code).not.toBe(0)
    expect(r.stderr).toContain("config.yaml:2: 'replicaQuota' must be a size")
  }, TIMEOUT_MS)
})

describe('teammates by swarm key', () => {
  it('team create on A, team join on B, both restarted: B reads what A only added', async () => {
    const [a, b] = [await openDaemon(), await openDaemon()]
    const { cid } = await addedData(a)
    const created = await mlp(a.home, ['team', 'create'])
    expect(created.code).toBe(0)
    const line = created.stdout.trim()
    expect(line).toMatch(/^mlp-team:v1:[0-9a-f]{64}$/)
    expect(created.stderr).toContain('restart')
    // again: the key in place is kept and its line printed
    expect((await mlp(a.home, ['team', 'create'])).stdout.trim()).toBe(line)

    const cut = await mlp(b.home, ['team', 'join', line.slice(0, 40)])
    expect(cut.code).not.toBe(0)
    expect(cut.stderr).toContain('64 hex digits')
    const joined = await mlpJson<{ file: string, written: boolean }>(b.home, ['team', 'join', line])
    expect(joined).toEqual({ file: join(b.home, 'swarm.key'), written: true })
    expect(statSync(joined.file).mode & 0o777).toBe(0o600)
    const other = `mlp-team:v1:${'ab'.repeat(32)}`
    const clash = await mlp(b.home, ['team', 'join', other])
    expect(clash.code).not.toBe(0)
    expect(clash.stderr).toContain('--force')

    for (const d of [a, b]) expect((await mlp(d.home, ['daemon', 'stop'])).code).toBe(0)
    const [a2, b2] = [await pool.start(a.home), await pool.start(b.home)]
    await connect(b2, a2)
    const [fetched] = await mlpJson<Fetched[]>(b2.home, ['fetch', cid])
    expect(fetched.fromPeers[a2.peerId].blocks).toBe(fetched.blocks)
    const team = await mlpJson<TeamListing>(a2.home, ['team', 'ls'])
    expect(team.swarmKey).toBe(true)
    expect(team.members.find((m) => m.peerId === b2.peerId)?.via).toEqual(['swarm-key'])
  }, TIMEOUT_MS)
})
