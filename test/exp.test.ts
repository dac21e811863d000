import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { multiaddr } from '@multiformats/multiaddr'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { MAX_FRAME_BYTES, MsgType, type ExpApplyResult, type ExpRecord, type ExpRow, type ExpRunResult, type StageOutcome } from '@mlp/proto'
import { EXP_PROTOCOL } from '../packages/daemon/src/exp/constants.js'
import { signRecord } from '../packages/daemon/src/exp/record.js'
import { createNode, type MlpNode } from '../packages/daemon/src/net/node.js'
import { channel } from '../packages/daemon/src/net/streams.js'
import { mlp, mlpJson, tempDir, waitFor } from './helpers/cli.js'
import { DaemonPool, type TestDaemon } from './helpers/daemons.js'
import { GPU_ENV } from './helpers/exec.js'
import { connect, git, GIT_ENV, LISTEN, rows, writePipeline } from './helpers/exp.js'
import { newProject, sha256 } from './helpers/project.js'

// Experiments across a team with no server: two teammates (`mlp team add`
// both ways, no swarm key) and a stranger connected to both, one bare git
// remote. Records are signed by their author, kept by every teammate, and
// never given to or taken from the stranger.

const pool = new DaemonPool()
let a: TestDaemon
let b: TestDaemon
let c: TestDaemon
let projA: string
let projB: string
const nodes: MlpNode[] = []

beforeAll(async () => {
  // no swarm key: a and b are teammates only by `mlp team add`, c is a stranger to both
  a = await pool.start(undefined, LISTEN, GIT_ENV, { team: false })
  b = await pool.start(undefined, LISTEN, GIT_ENV, { team: false })
  c = await pool.start(undefined, LISTEN, GIT_ENV, { team: false })
  await connect(b, a)
  await connect(c, a)
  await connect(c, b)
  await mlpJson(a.home, ['team', 'add', b.peerId])
  await mlpJson(b.home, ['team', 'add', a.peerId])
})
afterAll(async () => {
  for (const n of nodes) await n.stop()
  await pool.cleanup()
})

describe('project id', () => {
  it('mlp init writes a random id; an older project without one is told to run mlp init, which adds it', async () => {
    const p1 = await newProject(a.home)
    const p2 = await newProject(a.home)
    const id1 = /project_id: ([0-9a-f]{32})/.exec(readFileSync(join(p1, '.mlp', 'config.yaml'), 'utf8'))?.[1]
    const id2 = /project_id: ([0-9a-f]{32})/.exec(readFileSync(join(p2, '.mlp', 'config.yaml'), 'utf8'))?.[1]
    expect(id1).toBeDefined()
    expect(id2).toBeDefined()
    expect(id1).not.toBe(id2)

    // as `mlp init` wrote it before project ids
    writeFileSync(join(p1, '.mlp', 'config.yaml'), '# project settings for mlp (committed to git)\n')
    const refused = await mlp(a.home, ['exp', 'show'], { cwd: p1 })
    expect(refused.code).not.toBe(0)
    expect(refused.stderr).toMatch(/no project id.*run `mlp init`/)
    expect((await mlp(a.home, ['init'], { cwd: p1 })).code).toBe(0)
    const text = readFileSync(join(p1, '.mlp', 'config.yaml'), 'utf8')
    expect(text).toMatch(/^# project settings for mlp/)
    expect(text).toMatch(/project_id: [0-9a-f]{32}/)
    expect(await rows(a, p1)).toEqual([])
    // once it has one, init again changes nothing
    expect((await mlp(a.home, ['init'], { cwd: p1 })).code).not.toBe(0)
    expect(readFileSync(join(p1, '.mlp', 'config.yaml'), 'utf8')).toBe(text)
  }, 60_000)
})

describe('experiments between two teammates', () => {
  it('run on A with a code edit, listed on B (not on the stranger), kept while A is off, applied on B with its outs', async () => {
    const remote = await tempDir('mlp-remote-')
    git(remote, ['init', '-q', '--bare'])
    projA = await newProject(a.home)
    writePipeline(projA)
    git(projA, ['add', '-A'])
    git(projA, ['commit', '-q', '-m', 'pipeline'])
    git(projA, ['remote', 'add', 'origin', remote])
    git(projA, ['push', '-q', 'origin', 'HEAD:refs/heads/main'])
    const base = git(projA, ['rev-parse', 'HEAD']).trim()

    // bad input changes nothing
    const bad = await mlp(a.home, ['exp', 'run', '-S', 'nofile.yaml:x=1'], { cwd: projA })
    expect(bad.code).not.toBe(0)
    expect(bad.stderr).toMatch(/nofile\.yaml does not exist/)
    expect(git(projA, ['status', '--porcelain'])).toBe('')

    // an uncommitted edit to the training script is part of the experiment
    writeFileSync(join(projA, 'train.js'), readFileSync(join(projA, 'train.js'), 'utf8').replace("'base'", "'edited'"))
    const run = await mlpJson<ExpRunResult>(a.home, ['exp', 'run', '-S', 'train.lr=0.2', '-n', 'lr02'], { cwd: projA })
    expect(run.record.state).toBe('done')
    expect(run.record.base).toBe(base)
    expect(run.record.author).toBe(a.peerId)
    expect(run.record.params).toEqual([{ file: 'params.yaml', key: 'train.lr', old: 0.1, new: 0.2 }])
    expect(run.record.metrics).toContainEqual({ file: 'metrics.json', key: 'acc', value: 0.8 })
    expect(run.record.metrics).toContainEqual({ file: 'metrics.json', key: 'variant', value: 'edited' })
    expect(run.record.ranOn).toEqual({ train: a.peerId })
    expect(run.record.patch?.size).toBeGreaterThan(0)
    expect(run.record.locks.map((l) => l.path)).toEqual(['mlp.lock'])
    // the workspace holds the results; -S kept the file's comments
    expect(readFileSync(join(projA, 'params.yaml'), 'utf8')).toBe('# learning settings\ntrain:\n  lr: 0.2 # the step size\n  epochs: 3\n')
    const modelA = sha256(join(projA, 'model.bin'))
    expect(readFileSync(join(projA, 'model.bin'), 'utf8')).toMatch(/^edited model trained with lr 0.2/)
    // a name is generated when none is given, and names are unique per author
    const dup = await mlp(a.home, ['exp', 'run', '-n', 'lr02'], { cwd: projA })
    expect(dup.code).not.toBe(0)
    expect(dup.stderr).toMatch(/'lr02' exists already/)
    const gen = await mlpJson<ExpRunResult>(a.home, ['exp', 'run'], { cwd: projA })
    expect(gen.record.name).toMatch(/^[a-z]+-[a-z]+/)

    // B, a teammate, lists it with its params and metrics
    projB = join(await tempDir('mlp-b-'), 'proj')
    git(projA, ['clone', '-q', '-b', 'main', remote, projB])
    let listed: ExpRow | undefined
    await waitFor('B lists lr02', async () => {
      listed = (await rows(b, projB)).find((r) => r.name === 'lr02')
      return listed != null
    })
    expect(listed).toMatchObject({ by: a.peerId, mine: false, base, state: 'done', where: [a.peerId], params: [{ file: 'params.yaml', key: 'train.lr', old: 0.1, new: 0.2 }] })
    expect(listed?.metrics).toContainEqual({ file: 'metrics.json', key: 'acc', value: 0.8 })
    const text = await mlp(b.home, ['exp', 'show'], { cwd: projB })
    expect(text.stdout).toMatch(/lr02\s+\w{7}\s+\S+\s+\S+\s+.*done\s+train\.lr=0\.2\s+acc=0\.8/)

    // the stranger, in a clone of the same project, neither gets A's records nor gives its own
    const projC = join(await tempDir('mlp-c-'), 'proj')
    git(projA, ['clone', '-q', '-b', 'main', remote, projC])
    const strangers = await mlpJson<ExpRunResult>(c.home, ['exp', 'run', '-S', 'train.lr=0.3', '-n', 'from-stranger'], { cwd: projC })
    expect(strangers.record.state).toBe('done')
    expect((await rows(c, projC)).map((r) => r.name)).toEqual(['from-stranger'])
    expect((await rows(a, projA)).map((r) => r.name)).not.toContain('from-stranger')
    expect((await rows(b, projB)).map((r) => r.name)).not.toContain('from-stranger')

    // exp diff against B's workspace needs only the record
    const diff = await mlpJson<Array<{ key: string, old: unknown, new: unknown }>>(b.home, ['exp', 'diff', 'lr02'], { cwd: projB })
    expect(diff).toContainEqual({ file: 'params.yaml', key: 'train.lr', old: 0.2, new: 0.1 })

    // A's machine goes off: B still lists it, and says clearly that nobody holds its outs
    expect((await mlp(a.home, ['daemon', 'stop'])).code).toBe(0)
    expect((await rows(b, projB)).map((r) => r.name)).toContain('lr02')
    const noPeer = await mlp(b.home, ['exp', 'apply', 'lr02'], { cwd: projB, timeoutMs: 120_000 })
    expect(noPeer.code).not.toBe(0)
    expect(noPeer.stderr).toMatch(/no reachable peer holds/)
    // and changed nothing
    expect(git(projB, ['status', '--porcelain'])).toBe('')

    // A back (positive control): apply fetches the patch and the outs from it
    a = await pool.start(a.home, LISTEN, GIT_ENV, { team: false })
    await connect(b, a)
    const applied = await mlpJson<ExpApplyResult>(b.home, ['exp', 'apply', 'lr02'], { cwd: projB })
    expect(applied).toMatchObject({ name: 'lr02', by: a.peerId, patched: true, locks: ['mlp.lock'], outs: ['model.bin', 'metrics.json'] })
    // the code edit, the params, the model and the metrics are the experiment's
    expect(readFileSync(join(projB, 'train.js'), 'utf8')).toContain("'edited'")
    expect(readFileSync(join(projB, 'params.yaml'), 'utf8')).toContain('lr: 0.2 # the step size')
    expect(sha256(join(projB, 'model.bin'))).toBe(modelA)
    // so nothing is left to run
    const repro = await mlpJson<StageOutcome[]>(b.home, ['repro'], { cwd: projB })
    expect(repro.map((o) => o.status)).toEqual(['skipped'])
    // and rerunning it from the applied code reproduces the edit
    const forced = await mlpJson<StageOutcome[]>(b.home, ['repro', '--force', '--no-run-cache'], { cwd: projB })
    expect(forced.map((o) => o.status)).toEqual(['ran'])
    expect(sha256(join(projB, 'model.bin'))).toBe(modelA)

    // a branch holding the experiment, the workspace untouched
    const branch = await mlpJson<{ branch: string, commit: string }>(b.home, ['exp', 'branch', 'lr02', 'exp-lr02'], { cwd: projB })
    expect(git(projB, ['show', `${branch.commit}:train.js`])).toContain("'edited'")
    expect(git(projB, ['show', 'exp-lr02:params.yaml'])).toContain('lr: 0.2')
    expect(git(projB, ['show', 'exp-lr02:mlp.lock'])).toContain('model.bin')
    expect(git(projB, ['rev-parse', 'exp-lr02^']).trim()).toBe(base)
    expect(git(projB, ['rev-parse', 'HEAD']).trim()).toBe(base)

    // only its author removes it; the removal spreads
    const notMine = await mlp(b.home, ['exp', 'remove', 'lr02'], { cwd: projB })
    expect(notMine.code).not.toBe(0)
    expect(notMine.stderr).toMatch(/only its author/)
    await mlpJson(a.home, ['exp', 'remove', 'lr02'], { cwd: projA })
    await waitFor('the removal reaches B', async () => !(await rows(b, projB)).some((r) => r.name === 'lr02'))
    expect((await rows(b, projB)).map((r) => r.name)).toContain(gen.record.name)
  }, 300_000)
})

/** Sends records to `d` over the experiment protocol as `node`; resolves the records `d` sends back, or null if it cut the stream. */
async function sendRecords (node: MlpNode, d: TestDaemon, records: unknown[]): Promise<unknown[] | null> {
  const ch = channel(await node.dialProtocol(multiaddr(d.addrs[0]), EXP_PROTOCOL), { maxFrameBytes: MAX_FRAME_BYTES })
  const back: unknown[] = []
  try {
    await ch.send({ type: MsgType.Json, req: 0, json: JSON.stringify({ op: 'records', records }) })
    await ch.send({ type: MsgType.Json, req: 0, json: JSON.stringify({ op: 'end', want: true }) })
    for await (const msg of ch.messages()) {
      if (msg.type !== MsgType.Json) continue
      const m = JSON.parse(msg.json) as { op: string, records?: unknown[] }
      if (m.op === 'records') back.push(...(m.records ?? []))
      if (m.op === 'end') return back
    }
  } catch {
    // cut off
  }
  return null
}

describe('records through the protocol', () => {
  it('a teammate cannot forge or alter another teammate\'s record; a stranger gets nothing', async () => {
    const project = /project_id: ([0-9a-f]{32})/.exec(readFileSync(join(projB, '.mlp', 'config.yaml'), 'utf8'))?.[1] as string
    const key = await generateKeyPair('Ed25519')
    const mallory = await createNode({ privateKey: key, listen: ['/ip4/127.0.0.1/tcp/0'], mdns: false })
    nodes.push(mallory)
    const malloryId = peerIdFromPrivateKey(key).toString()

    // a stranger asking B for records is cut off and given none
    expect(await sendRecords(mallory, b, [])).toBeNull()

    // now a teammate of B's
    await mlpJson(b.home, ['team', 'add', malloryId])
    const now = new Date().toISOString()
    const draft = { v: 1 as const, project, name: 'mine', state: 'done' as const, base: 'b'.repeat(40), params: [], metrics: [{ file: 'metrics.json', key: 'acc', value: 0.5 }], locks: [], ranOn: {}, startedAt: now, durationMs: 1, at: now }
    const own = await signRecord({ ...draft, author: malloryId }, key)
    // in A's name, signed with Mallory's key
    const forged = await signRecord({ ...draft, name: 'forged', author: a.peerId }, key)
    // A's real record, with a better metric and a later time, its signature kept
    const real = (await rows(b, projB)).find((r) => r.by === a.peerId) as ExpRow
    const kept = (JSON.parse(readFileSync(join(b.home, 'exps', project, `${a.peerId}.json`), 'utf8')) as ExpRecord[]).find((r) => r.name === real.name) as ExpRecord
    const altered = { ...kept, metrics: [{ file: 'metrics.json', key: 'acc', value: 1 }], at: new Date(Date.now() + 60_000).toISOString() }
    // a path outside the project in a lock, signed by Mallory as herself
    const hostile = await signRecord({ ...draft, name: 'hostile', author: malloryId, locks: [{ path: '../../outside/mlp.lock', text: '' }] }, key)

    // a record signed by its author, who is a stranger to B, relayed by Mallory
    const strangerKey = await generateKeyPair('Ed25519')
    const relayed = await signRecord({ ...draft, name: 'relayed', author: peerIdFromPrivateKey(strangerKey).toString() }, strangerKey)

    const back = await sendRecords(mallory, b, [own, forged, altered, hostile, relayed])
    // B answers a teammate with what it keeps: A's real record among them
    expect(back?.some((r) => (r as ExpRecord).name === real.name && (r as ExpRecord).author === a.peerId)).toBe(true)
    const listed = await rows(b, projB)
    expect(listed.find((r) => r.name === 'mine')?.by).toBe(malloryId)
    expect(listed.map((r) => r.name)).not.toContain('forged')
    expect(listed.map((r) => r.name)).not.toContain('hostile')
    expect(listed.map((r) => r.name)).not.toContain('relayed')
    expect(listed.find((r) => r.name === real.name && r.by === a.peerId)?.metrics).toEqual(real.metrics)
    // once Mallory is no longer a teammate, her records are neither shown nor passed on
    await mlpJson(b.home, ['team', 'rm', malloryId])
    expect((await rows(b, projB)).map((r) => r.name)).not.toContain('mine')
  }, 120_000)
})

describe('queued experiments', () => {
  it('--queue records without touching the workspace; --run-all -j 2 runs them in worktrees, at most two at a time', async () => {
    const proj = await newProject(a.home)
    writePipeline(proj)
    git(proj, ['add', '-A'])
    git(proj, ['commit', '-q', '-m', 'pipeline'])
    // an uncommitted code edit goes with each queued experiment
    writeFileSync(join(proj, 'train.js'), readFileSync(join(proj, 'train.js'), 'utf8').replace("'base'", "'edited'"))
    const before = (): string[] => [git(proj, ['status', '--porcelain']), readFileSync(join(proj, 'params.yaml'), 'utf8'), readFileSync(join(proj, 'train.js'), 'utf8')]
    const snapshot = before()
    const lrs = [0.3, 0.4, 0.5, 0.6]
    for (const lr of lrs) {
      const q = await mlpJson<ExpRunResult>(a.home, ['exp', 'run', '--queue', '-S', `train.lr=${lr}`, '-n', `q${lr * 10}`], { cwd: proj })
      expect(q.record).toMatchObject({ state: 'queued', params: [{ file: 'params.yaml', key: 'train.lr', old: 0.1, new: lr }] })
    }
    expect(before()).toEqual(snapshot)
    expect((await rows(a, proj)).map((r) => r.state)).toEqual(['queued', 'queued', 'queued', 'queued'])

    const all = await mlpJson<ExpRunResult[]>(a.home, ['exp', 'run', '--run-all', '-j', '2'], { cwd: proj })
    expect(all.map((r) => r.record.state)).toEqual(['done', 'done', 'done', 'done'])
    for (const lr of lrs) {
      const r = all.find((x) => x.record.name === `q${lr * 10}`)?.record
      expect(r?.metrics).toContainEqual({ file: 'metrics.json', key: 'acc', value: 1 - lr })
      expect(r?.metrics).toContainEqual({ file: 'metrics.json', key: 'variant', value: 'edited' })
    }
    // the user's workspace is as it was: no model, params and code unchanged
    expect(before()).toEqual(snapshot)
    expect(existsSync(join(proj, 'model.bin'))).toBe(false)
    // never more than two at once
    const spans = all.map((r) => [Date.parse(r.record.startedAt), Date.parse(r.record.startedAt) + r.record.durationMs])
    for (const [start] of spans) expect(spans.filter(([s, e]) => s <= start && start < e).length).toBeLessThanOrEqual(2)
    expect((await rows(a, proj)).every((r) => r.state === 'done')).toBe(true)
    const again = await mlp(a.home, ['exp', 'run', '--run-all'], { cwd: proj })
    expect(again.code).not.toBe(0)
    expect(again.stderr).toMatch(/no queued experiments/)

    // applying one: another uncommitted edit to train.js conflicts, and nothing changes
    const edited = readFileSync(join(proj, 'train.js'), 'utf8')
    writeFileSync(join(proj, 'train.js'), edited.replace("'edited'", "'other'"))
    const conflict = await mlp(a.home, ['exp', 'apply', 'q4'], { cwd: proj })
    expect(conflict.code).not.toBe(0)
    expect(conflict.stderr).toMatch(/uncommitted changes to train\.js conflict/)
    expect(readFileSync(join(proj, 'train.js'), 'utf8')).toContain("'other'")
    expect(readFileSync(join(proj, 'params.yaml'), 'utf8')).toBe(snapshot[1])
    // the experiment's own edit is no conflict
    writeFileSync(join(proj, 'train.js'), edited)
    expect((await mlpJson<ExpApplyResult>(a.home, ['exp', 'apply', 'q4'], { cwd: proj })).patched).toBe(true)
    expect(readFileSync(join(proj, 'params.yaml'), 'utf8')).toContain('lr: 0.4')
    // the same bytes running it alone gives
    expect(readFileSync(join(proj, 'model.bin'), 'utf8')).toBe('edited model trained with lr 0.4\n'.repeat(2000))
    expect((await mlpJson<StageOutcome[]>(a.home, ['repro'], { cwd: proj })).map((o) => o.status)).toEqual(['skipped'])
  }, 240_000)
})

describe('a queued sweep on GPU peers', () => {
  it('GPU stages of queued experiments run on trusted GPU peers, two at a time, on both peers, the workspace untouched', async () => {
    const g1 = await pool.start(undefined, LISTEN, { ...GIT_ENV, ...GPU_ENV }, { team: false })
    const g2 = await pool.start(undefined, LISTEN, { ...GIT_ENV, ...GPU_ENV }, { team: false })
    for (const g of [g1, g2]) {
      await connect(a, g)
      await mlpJson(g.home, ['trust', 'add', a.peerId, '--run'])
      await mlpJson(a.home, ['trust', 'add', g.peerId, '--results'])
    }
    const proj = await newProject(a.home)
    writePipeline(proj)
    writeFileSync(join(proj, 'mlp.yaml'), readFileSync(join(proj, 'mlp.yaml'), 'utf8') + '    resources:\n      gpu: 1\n')
    git(proj, ['add', '-A'])
    git(proj, ['commit', '-q', '-m', 'gpu pipeline'])
    const lrs = [0.2, 0.3, 0.4, 0.5]
    for (const lr of lrs) await mlpJson(a.home, ['exp', 'run', '--queue', '-S', `train.lr=${lr}`, '-n', `gpu${lr * 10}`], { cwd: proj })
    const all = await mlpJson<ExpRunResult[]>(a.home, ['exp', 'run', '--run-all', '-j', '2'], { cwd: proj })
    expect(all.map((r) => r.record.state)).toEqual(['done', 'done', 'done', 'done'])
    // two free single-GPU peers and two experiments at a time: both peers are used (a peer whose GPU a stage holds is not free)
    expect(new Set(all.map((r) => r.record.ranOn.train))).toEqual(new Set([g1.peerId, g2.peerId]))
    for (const r of all) {
      expect([g1.peerId, g2.peerId]).toContain(r.record.ranOn.train)
      const lr = r.record.params[0].new as number
      expect(r.record.metrics).toContainEqual({ file: 'metrics.json', key: 'acc', value: 1 - lr })
    }
    const spans = all.map((r) => [Date.parse(r.record.startedAt), Date.parse(r.record.startedAt) + r.record.durationMs])
    for (const [start] of spans) expect(spans.filter(([s, e]) => s <= start && start < e).length).toBeLessThanOrEqual(2)
    expect(git(proj, ['status', '--porcelain'])).toBe('')
    expect(existsSync(join(proj, 'model.bin'))).toBe(false)
    // teammates see where each ran
    expect((await rows(a, proj)).map((r) => r.where.length)).toEqual([1, 1, 1, 1])
  }, 300_000)
})
