import { existsSync, lstatSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { multiaddr } from '@multiformats/multiaddr'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { MAX_FRAME_BYTES, MsgType, type ExpApplyResult, type ExpRecord, type ExpRow, type ExpRunResult } from '@mlp/proto'
import { EXP_PROTOCOL } from '../packages/daemon/src/exp/constants.js'
import { signRecord } from '../packages/daemon/src/exp/record.js'
import { createNode, type MlpNode } from '../packages/daemon/src/net/node.js'
import { channel } from '../packages/daemon/src/net/streams.js'
import { mlp, mlpJson, tempDir } from './helpers/cli.js'
import { DaemonPool, type TestDaemon } from './helpers/daemons.js'
import { git, GIT_ENV, LISTEN } from './helpers/exp.js'
import { newProject } from './helpers/project.js'

// What a teammate's experiment must not be able to do to the machine that
// applies it: the reviewer's reproductions, each with its positive control.

const pool = new DaemonPool()
let a: TestDaemon
const nodes: MlpNode[] = []

/** A one-stage pipeline whose lock records a param value, and a script to edit. */
async function project (): Promise<string> {
  const proj = await newProject(a.home)
  writeFileSync(join(proj, 'params.yaml'), 'lr: 0.1\n')
  writeFileSync(join(proj, 'train.js'), "require('fs').writeFileSync('out.txt', 'base ' + process.argv[2] + '\\n')\n")
  writeFileSync(join(proj, 'mlp.yaml'), `stages:
  train:
    cmd: node train.js \${lr}
    deps: [train.js]
    params: [lr]
    outs: [out.txt]
`)
  writeFileSync(join(proj, '.gitignore'), '/out.txt\n')
  git(proj, ['add', '-A'])
  git(proj, ['commit', '-q', '-m', 'pipeline'])
  return proj
}

/** Back to the committed state, as a teammate's fresh clone would be. */
function clean (proj: string): void {
  git(proj, ['reset', '-q', '--hard'])
  git(proj, ['clean', '-q', '-fdx', '-e', '.mlp'])
}

beforeAll(async () => {
  a = await pool.start(undefined, LISTEN, GIT_ENV, { team: false })
})
afterAll(async () => {
  for (const n of nodes) await n.stop()
  await pool.cleanup()
})

describe('exp apply and symlinks', () => {
  it('refuses a patch that plants symlinks (at the old temp lock names, or anywhere), changing nothing; an ordinary code edit applies', async () => {
    const proj = await project()
    const outside = join(await tempDir('mlp-outside-'), 'bashrc')
    writeFileSync(outside, '# my shell settings\n')

    // the reviewer's reproduction: symlinks named as the lock's old temporary file, for a range of pids
    for (let pid = a.pid - 2; pid <= a.pid + 2; pid++) symlinkSync(outside, join(proj, `mlp.lock.mlp-tmp-${pid}`))
    git(proj, ['add', '-A'])
    const evil = await mlpJson<ExpRunResult>(a.home, ['exp', 'run', '-S', 'lr=0.3', '-n', 'evil'], { cwd: proj })
    expect(evil.record.state).toBe('done')
    clean(proj)
    // any symlink at all, beside a code edit
    symlinkSync(outside, join(proj, 'data-link'))
    git(proj, ['add', '-A'])
    writeFileSync(join(proj, 'train.js'), readFileSync(join(proj, 'train.js'), 'utf8').replace("'base '", "'edited '"))
    expect((await mlpJson<ExpRunResult>(a.home, ['exp', 'run', '-n', 'linked'], { cwd: proj })).record.state).toBe('done')
    clean(proj)

    const before = [git(proj, ['status', '--porcelain', '--ignored']), readFileSync(join(proj, 'train.js'), 'utf8'), readFileSync(join(proj, 'params.yaml'), 'utf8')]
    for (const name of ['evil', 'linked']) {
      const refused = await mlp(a.home, ['exp', 'apply', name], { cwd: proj })
      expect(refused.code).not.toBe(0)
      expect(refused.stderr.trim().split('\n')).toHaveLength(1)
      expect(refused.stderr).toMatch(new RegExp(`experiment '${name}' creates symlinks .*nothing was changed`))
      // a branch of it would plant them at checkout: refused too
      const branch = await mlp(a.home, ['exp', 'branch', name, `b-${name}`], { cwd: proj })
      expect(branch.code).not.toBe(0)
      expect(branch.stderr).toMatch(/creates symlinks/)
    }
    // nothing outside the project, and nothing in it, changed
    expect(readFileSync(outside, 'utf8')).toBe('# my shell settings\n')
    expect(existsSync(join(proj, 'data-link'))).toBe(false)
    expect(existsSync(join(proj, 'mlp.lock'))).toBe(false)
    expect([git(proj, ['status', '--porcelain', '--ignored']), readFileSync(join(proj, 'train.js'), 'utf8'), readFileSync(join(proj, 'params.yaml'), 'utf8')]).toEqual(before)
    expect(git(proj, ['branch', '--list', 'b-*'])).toBe('')

    // positive control: an experiment with an ordinary code edit applies, its lock a regular file
    writeFileSync(join(proj, 'train.js'), readFileSync(join(proj, 'train.js'), 'utf8').replace("'base '", "'edited '"))
    expect((await mlpJson<ExpRunResult>(a.home, ['exp', 'run', '-S', 'lr=0.5', '-n', 'good'], { cwd: proj })).record.state).toBe('done')
    clean(proj)
    const applied = await mlpJson<ExpApplyResult>(a.home, ['exp', 'apply', 'good'], { cwd: proj })
    expect(applied).toMatchObject({ name: 'good', patched: true, locks: ['mlp.lock'] })
    // what the patch changed, as git says it
    expect(applied.changes).toContainEqual(expect.stringMatching(/^1\t1\ttrain\.js$/))
    expect(readFileSync(join(proj, 'train.js'), 'utf8')).toContain("'edited '")
    expect(readFileSync(join(proj, 'out.txt'), 'utf8')).toBe('edited 0.5\n')
    expect(lstatSync(join(proj, 'mlp.lock')).isFile()).toBe(true)
    expect(readFileSync(outside, 'utf8')).toBe('# my shell settings\n')
  }, 120_000)
})

/** Sends messages to `d` over the experiment protocol as `node`, then `end`; resolves the records `d` sends back, or null if it cut the stream. */
async function sendMessages (node: MlpNode, d: TestDaemon, messages: string[]): Promise<unknown[] | null> {
  const ch = channel(await node.dialProtocol(multiaddr(d.addrs[0]), EXP_PROTOCOL), { maxFrameBytes: MAX_FRAME_BYTES })
  const back: unknown[] = []
  try {
    for (const json of messages) await ch.send({ type: MsgType.Json, req: 0, json })
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

const logLines = (d: TestDaemon): string[] => readFileSync(join(d.home, 'daemon.log'), 'utf8').split('\n').filter((l) => l !== '')

describe('a hostile teammate over the experiment protocol', () => {
  it('cannot put terminal escapes in exp show, flood the log, or keep its records reachable after team rm', async () => {
    const proj = await project()
    const base = git(proj, ['rev-parse', 'HEAD']).trim()
    const id = /project_id: ([0-9a-f]{32})/.exec(readFileSync(join(proj, '.mlp', 'config.yaml'), 'utf8'))?.[1] as string
    const key = await generateKeyPair('Ed25519')
    const mallory = await createNode({ privateKey: key, listen: ['/ip4/127.0.0.1/tcp/0'], mdns: false })
    nodes.push(mallory)
    const malloryId = peerIdFromPrivateKey(key).toString()
    await mlpJson(a.home, ['team', 'add', malloryId])
    const now = new Date().toISOString()
    const draft = (name: string, over: Partial<ExpRecord> = {}): Omit<ExpRecord, 'sig'> => ({ v: 1, project: id, author: malloryId, name, state: 'done', base, params: [], metrics: [], locks: [], ranOn: {}, startedAt: now, durationMs: 1, at: now, ...over })
    const records = (list: unknown[]): string => JSON.stringify({ op: 'records', records: list })

    // the reviewer's escape sequences in a param key, a metric key and a stage name; a plain record beside them
    const E = '\x1b'
    const evil = `lr${E}[2K${E}[1G${E}]0;owned${E}\\${E}[31mALL EXPERIMENTS DELETED${E}[0m`
    const colors = await signRecord(draft('colors', { params: [{ file: 'params.yaml', key: evil, old: 0.1, new: 0.2 }] }), key)
    const hidden = await signRecord(draft('hidden', { metrics: [{ file: 'metrics.json', key: `acc${E}[8m`, value: 1 }] }), key)
    const stage = await signRecord(draft('stage', { ranOn: { [`train${E}[2J`]: malloryId } }), key)
    const plain = await signRecord(draft('plain', { params: [{ file: 'params.yaml', key: 'lr', old: 0.1, new: 0.3 }] }), key)
    expect(await sendMessages(mallory, a, [records([colors, hidden, stage, plain])])).not.toBeNull()
    const shown = await mlpJson<ExpRow[]>(a.home, ['exp', 'show'], { cwd: proj })
    // positive control: the plain record is listed
    expect(shown.map((r) => r.name)).toEqual(['plain'])
    const text = await mlp(a.home, ['exp', 'show'], { cwd: proj })
    expect(text.stdout).toMatch(/plain .*lr=0\.3/)
    expect(text.stdout).not.toContain(E)

    // one message of 5000 junk records: a bounded number of log lines, and the stream is cut
    const before = logLines(a).length
    expect(await sendMessages(mallory, a, [records(new Array(5000).fill(0))])).toBeNull()
    const added = logLines(a).slice(before)
    expect(added.length).toBeGreaterThan(0)
    expect(added.length).toBeLessThanOrEqual(3)
    expect(added.join('\n')).toMatch(/refused experiment records.*not an object/)
    // positive control: valid records in the same setup are still taken
    const after = await signRecord(draft('after-flood'), key)
    expect(await sendMessages(mallory, a, [records([after])])).not.toBeNull()
    expect((await mlpJson<ExpRow[]>(a.home, ['exp', 'show'], { cwd: proj })).map((r) => r.name).sort()).toEqual(['after-flood', 'plain'])

    // while Mallory is a teammate, her experiments resolve (positive control)...
    const diff = await mlp(a.home, ['exp', 'diff', 'plain', '--json'], { cwd: proj })
    expect(diff.code).toBe(0)
    expect(JSON.parse(diff.stdout)).toContainEqual({ file: 'params.yaml', key: 'lr', old: 0.3, new: 0.1 })
    // ...once removed, no command finds them, by bare name or by author
    await mlpJson(a.home, ['team', 'rm', malloryId])
    for (const args of [['exp', 'diff', 'plain'], ['exp', 'apply', 'plain'], ['exp', 'diff', `${malloryId}/after-flood`], ['exp', 'branch', 'plain', 'b-plain']]) {
      const r = await mlp(a.home, args, { cwd: proj })
      expect(r.code, args.join(' ')).not.toBe(0)
      expect(r.stderr, args.join(' ')).toMatch(/no experiment '.*plain|no experiment '.*after-flood/)
    }
    expect(await mlpJson<ExpRow[]>(a.home, ['exp', 'show'], { cwd: proj })).toEqual([])
    // and they are gone from disk too
    expect(existsSync(join(a.home, 'exps', id, `${malloryId}.json`))).toBe(false)
  }, 120_000)
})

describe('-S with a control or invisible character', () => {
  it('is refused in one line before anything is written (a record teammates would refuse); a normal key works', async () => {
    const proj = await project()
    const params = (): string => readFileSync(join(proj, 'params.yaml'), 'utf8')
    const before = params()
    const E = '\x1b'
    const sets = [
      'lr\u202e=0.3', // bidi override in the key
      `l${E}[31mr=0.3`, // a terminal escape in the key
      'params.yaml\u2066:lr=0.3', // an isolate in the file
      'lr=fast\u202eslow', // bidi override in the value
      'lr="fast\\u202eslow"', // the same through a YAML escape
      'lr={"k\u200b": 1}' // a zero-width space in a key inside the value
    ]
    for (const set of sets) {
      for (const queue of [[], ['--queue']]) {
        const r = await mlp(a.home, ['exp', 'run', ...queue, '-S', set, '-n', 'hidden'], { cwd: proj })
        expect(r.code, JSON.stringify(set)).not.toBe(0)
        expect(r.stderr.trim().split('\n'), JSON.stringify(set)).toHaveLength(1)
        expect(r.stderr, JSON.stringify(set)).toMatch(/control or invisible character/)
        // the character itself is shown escaped, never sent to the terminal
        for (const ch of [E, '\u200b', '\u202e', '\u2066']) expect(r.stderr, JSON.stringify(set)).not.toContain(ch)
        expect(params()).toBe(before)
        expect(git(proj, ['status', '--porcelain'])).toBe('')
      }
    }
    expect((await mlpJson<ExpRow[]>(a.home, ['exp', 'show'], { cwd: proj })).map((r) => r.name)).not.toContain('hidden')

    // positive controls: a normal key, and a tab in a value (the record rule lets tabs and line breaks through in values)
    const ok = await mlpJson<ExpRunResult>(a.home, ['exp', 'run', '-S', 'lr=0.3', '-n', 'plain-key'], { cwd: proj })
    expect(ok.record).toMatchObject({ state: 'done', params: [{ file: 'params.yaml', key: 'lr', old: 0.1, new: 0.3 }] })
    expect(params()).toBe('lr: 0.3\n')
    const tab = await mlpJson<ExpRunResult>(a.home, ['exp', 'run', '--queue', '-S', 'lr="a\tb"', '-n', 'tab-value'], { cwd: proj })
    expect(tab.record.params).toEqual([{ file: 'params.yaml', key: 'lr', old: 0.1, new: 'a\tb' }])
  }, 120_000)
})

describe('results a teammate would refuse', () => {
  it('a metric key with a control character ends the experiment failed, saying why, never left running; plain metrics are recorded', async () => {
    const proj = await project()
    // the stage also writes metrics: with `lr: escape` its key carries a terminal escape (-S only ever sees the plain word)
    writeFileSync(join(proj, 'train.js'), "const fs = require('fs'); fs.writeFileSync('out.txt', 'ok\\n'); const key = process.argv[2] === 'escape' ? 'acc\\u001b[31m' : process.argv[2]; fs.writeFileSync('metrics.json', JSON.stringify({ [key]: 0.5 }))\n")
    writeFileSync(join(proj, 'params.yaml'), 'lr: acc\n')
    writeFileSync(join(proj, 'mlp.yaml'), `stages:\n  train:\n    cmd: node train.js ${'$'}{lr}\n    deps: [train.js]\n    params: [lr]\n    outs: [out.txt]\n    metrics: [metrics.json]\n`)
    git(proj, ['add', '-A'])
    git(proj, ['commit', '-q', '-m', 'metrics'])
    // positive control: a plain metric key is recorded
    const plain = await mlpJson<ExpRunResult>(a.home, ['exp', 'run', '-S', 'lr=loss', '-n', 'plain-metric'], { cwd: proj })
    expect(plain.record).toMatchObject({ state: 'done', metrics: [{ file: 'metrics.json', key: 'loss', value: 0.5 }] })
    const r = await mlp(a.home, ['exp', 'run', '-S', 'lr=escape', '-n', 'escaped-metric', '--json'], { cwd: proj })
    expect(r.code).not.toBe(0)
    const shown = (await mlpJson<ExpRow[]>(a.home, ['exp', 'show'], { cwd: proj })).find((x) => x.name === 'escaped-metric')
    expect(shown).toMatchObject({ state: 'failed', metrics: [], reason: expect.stringMatching(/cannot be shared with teammates \(metrics: /) })
  }, 120_000)
})
