import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import type { ExpRecord } from '@mlp/proto'
import { afterAll, describe, expect, it } from 'vitest'
import { canonicalJson, recordProblem, signRecord, verifyRecord } from '../src/exp/record.js'
import { byteLimited } from '../src/exp/patch.js'
import { ExpRecords } from '../src/exp/records.js'
import { parseParamSet } from '../src/exp/set-params.js'

const dir = await mkdtemp(join(tmpdir(), 'mlp-exp-'))
afterAll(async () => { await rm(dir, { recursive: true, force: true }) })

const alice = await generateKeyPair('Ed25519')
const aliceId = peerIdFromPrivateKey(alice).toString()
const bob = await generateKeyPair('Ed25519')
const bobId = peerIdFromPrivateKey(bob).toString()
const PROJECT = '0123456789abcdef0123456789abcdef'
const BASE = 'a'.repeat(40)
const CID = 'bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku'

function draft (over: Partial<ExpRecord> = {}): Omit<ExpRecord, 'sig'> {
  return {
    v: 1,
    project: PROJECT,
    author: aliceId,
    name: 'lucky-otter',
    state: 'done',
    base: BASE,
    patch: { cid: CID, size: 120 },
    params: [{ file: 'params.yaml', key: 'train.lr', old: 0.1, new: 0.2 }],
    metrics: [{ file: 'metrics.json', key: 'acc', value: 0.9 }],
    locks: [{ path: 'mlp.lock', text: 'schema: "2.0"\nstages: {}\n' }],
    ranOn: { train: aliceId },
    startedAt: '2026-01-01T00:00:00.000Z',
    durationMs: 1200,
    at: '2026-01-01T00:00:02.000Z',
    ...over
  }
}

describe('experiment records', () => {
  it('canonical JSON does not depend on key order', () => {
    expect(canonicalJson({ b: 1, a: { d: [2, { z: 1, y: 2 }], c: 3 } })).toBe(canonicalJson({ a: { c: 3, d: [2, { y: 2, z: 1 }] }, b: 1 }))
  })

  it('verify when signed by their author; any change, or another key, breaks them', async () => {
    const r = await signRecord(draft(), alice)
    expect(await verifyRecord(r)).toBeUndefined()
    // altered by whoever relays it
    expect(await verifyRecord({ ...r, metrics: [{ file: 'metrics.json', key: 'acc', value: 0.99 }] })).toMatch(/signature/)
    expect(await verifyRecord({ ...r, state: 'removed' })).toMatch(/signature/)
    expect(await verifyRecord({ ...r, patch: { cid: CID, size: 121 } })).toMatch(/signature/)
    // a teammate (bob) forging alice's record: signed with bob's key, author alice
    const forged = await signRecord(draft({ name: 'forged' }), bob)
    expect(await verifyRecord(forged)).toMatch(/signature/)
    // taking alice's signature under bob's name does not work either
    expect(await verifyRecord({ ...r, author: bobId })).toMatch(/signature/)
    // bob's own record, signed by bob, is fine (positive control)
    expect(await verifyRecord(await signRecord(draft({ author: bobId }), bob))).toBeUndefined()
  })

  it('refuse malformed fields before any signature check', async () => {
    const ok = draft()
    expect(recordProblem({ ...ok, sig: 'x' })).toBeUndefined()
    const bad: Array<[Partial<Record<keyof ExpRecord | 'extra', unknown>>, RegExp]> = [
      [{ project: '../etc' }, /project/],
      [{ author: 'not a peer id' }, /author/],
      [{ name: '../../x' }, /name/],
      [{ name: 'a'.repeat(65) }, /name/],
      [{ state: 'weird' }, /state/],
      [{ base: 'HEAD' }, /base/],
      [{ patch: { cid: 'nope', size: 1 } }, /patch cid/],
      [{ patch: { cid: CID, size: -1 } }, /patch size/],
      [{ locks: [{ path: '../mlp.lock', text: '' }] }, /lock path/],
      [{ locks: [{ path: 'src/evil.py', text: '' }] }, /lock path/],
      [{ locks: [{ path: '/etc/mlp.lock', text: '' }] }, /lock path/],
      [{ params: [{ file: '../../.ssh/id_rsa', key: 'k', old: 1, new: 2 }] }, /params/],
      [{ metrics: 'lots' }, /metrics/],
      [{ ranOn: { train: 'someone' } }, /ranOn/],
      [{ at: 'yesterday' }, /time/],
      [{ durationMs: -5 }, /duration/],
      [{ extra: 1 }, /unknown field/],
      [{ locks: [{ path: 'mlp.lock', text: 'x'.repeat(300 * 1024) }] }, /bytes/],
      // text that is shown: no terminal escapes, C1 controls or bidi overrides in keys, files, stage names or values
      [{ params: [{ file: 'params.yaml', key: 'lr\x1b[2K\x1b[31mDELETED', old: 0.1, new: 0.2 }] }, /params: bad key/],
      [{ metrics: [{ file: 'metrics.json', key: 'acc\u009b8m', value: 1 }] }, /metrics: bad key/],
      [{ metrics: [{ file: 'metrics\u202e.json', key: 'acc', value: 1 }] }, /metrics: bad file/],
      [{ metrics: [{ file: 'metrics.json', key: 'acc', value: { 'a\u200b': 1 } }] }, /metrics: a value/],
      [{ params: [{ file: 'params.yaml', key: 'lr', old: 0.1, new: ['x\x1b]0;owned\x07'] }] }, /params: a value/],
      [{ ranOn: { 'train\x1b[8m': aliceId } }, /ranOn/]
    ]
    for (const [change, why] of bad) expect(recordProblem({ ...ok, ...change, sig: 'x' }), JSON.stringify(change).slice(0, 80)).toMatch(why)
    // positive control: non-ASCII keys and a multi-line string value are fine
    expect(recordProblem({ ...ok, params: [{ file: 'params.yaml', key: 'modèle.taux', old: 'a\nb', new: 'c\td' }], ranOn: { entraîner: aliceId }, sig: 'x' })).toBeUndefined()
    expect(await verifyRecord(null)).toBeDefined()
  })

  it('keep the newest version of a record and enforce the per-author caps', async () => {
    const store = new ExpRecords(join(dir, 'caps'), { maxRecords: 2, maxBytes: 64 * 1024, maxProjects: 1 })
    const first = await signRecord(draft({ name: 'one', state: 'running', at: '2026-01-01T00:00:01.000Z' }), alice)
    const done = await signRecord(draft({ name: 'one', at: '2026-01-01T00:00:05.000Z' }), alice)
    expect(await store.put(done)).toBe('stored')
    // an older version arriving late does not replace the newer
    expect(await store.put(first)).toBe('older')
    expect(await store.put(done)).toBe('unchanged')
    expect(store.get(PROJECT, aliceId, 'one')?.state).toBe('done')
    expect(await store.put(await signRecord(draft({ name: 'two' }), alice))).toBe('stored')
    // a third record of the same author and project is over the count cap; another author has their own
    expect(await store.put(await signRecord(draft({ name: 'three' }), alice))).toBe('full')
    expect(await store.put(await signRecord(draft({ name: 'three', author: bobId }), bob))).toBe('stored')
    // a newer version of a kept record still fits (a tombstone replaces it)
    expect(await store.put(await signRecord(draft({ name: 'two', state: 'removed', at: '2026-01-02T00:00:00.000Z' }), alice))).toBe('stored')
    // a second project for the same author is over the projects cap
    expect(await store.put(await signRecord(draft({ name: 'x', project: 'f'.repeat(32) }), alice))).toBe('full')
    // the byte cap
    const big = new ExpRecords(join(dir, 'bytes'), { maxBytes: 2000 })
    expect(await big.put(await signRecord(draft({ name: 'b1' }), alice))).toBe('stored')
    expect(await big.put(await signRecord(draft({ name: 'b2', locks: [{ path: 'mlp.lock', text: 'y'.repeat(1500) }] }), alice))).toBe('full')
    // what was kept comes back after a restart
    const again = new ExpRecords(join(dir, 'caps'))
    await again.load()
    expect(again.list(PROJECT).map((r) => `${r.author === aliceId ? 'a' : 'b'}:${r.name}:${r.state}`).sort()).toEqual(['a:one:done', 'a:two:removed', 'b:three:done'])
  })

  it('enforce a byte budget per author across projects, and a tight one for projects this machine does not know', async () => {
    const P1 = '1'.repeat(32)
    const P2 = '2'.repeat(32)
    const P3 = '3'.repeat(32)
    const size = async (r: Omit<ExpRecord, 'sig'>, key = alice): Promise<ExpRecord> => await signRecord(r, key)
    const one = await size(draft({ project: P1, name: 'r' }))
    const n = Buffer.byteLength(JSON.stringify(one)) + 8
    // every project known: two records' worth per author in all, whatever the projects
    const known = new ExpRecords(join(dir, 'budget'), { maxAuthorBytes: 2 * n, knownProjects: async () => new Set([P1, P2, P3]) })
    expect(await known.putMany([one, await size(draft({ project: P2, name: 'r' }))])).toEqual(['stored', 'stored'])
    expect(await known.put(await size(draft({ project: P3, name: 'r' })))).toBe('full')
    expect(await known.put(await size(draft({ project: P1, name: 'r2' })))).toBe('full')
    // positive controls: another author has a budget of their own; a newer version of a kept record replaces it in place
    expect(await known.put(await size(draft({ project: P3, name: 'r', author: bobId }), bob))).toBe('stored')
    expect(await known.put(await size(draft({ project: P1, name: 'r', at: '2026-01-03T00:00:00.000Z' })))).toBe('stored')
    expect(known.list(P3).map((r) => r.author)).toEqual([bobId])

    // only P1 known: records for other project ids share one small budget
    const some = new ExpRecords(join(dir, 'unknown'), { maxUnknownBytes: n, knownProjects: async () => new Set([P1]) })
    expect(await some.put(await size(draft({ project: P2, name: 'u1' })))).toBe('stored')
    expect(await some.putMany([await size(draft({ project: P3, name: 'u2' })), await size(draft({ project: P2, name: 'u3' }))])).toEqual(['full', 'full'])
    // positive control: the known project still takes records
    expect(await some.putMany([await size(draft({ project: P1, name: 'k1' })), await size(draft({ project: P1, name: 'k2' }))])).toEqual(['stored', 'stored'])
    // what one batch kept is on disk; a dropped author is gone from memory and disk
    const reloaded = new ExpRecords(join(dir, 'unknown'))
    await reloaded.load()
    expect(reloaded.list(P1).map((r) => r.name).sort()).toEqual(['k1', 'k2'])
    await some.dropAuthor(aliceId)
    expect(some.all()).toEqual([])
    const dropped = new ExpRecords(join(dir, 'unknown'))
    await dropped.load()
    expect(dropped.all()).toEqual([])
    // and the budget is free again
    expect(await some.put(await size(draft({ project: P2, name: 'u1' })))).toBe('stored')
  })

  it('stop fetching a patch past the size its record declares', () => {
    const progress = { root: CID, blocks: 1, peers: 1, presentBytes: 0 }
    // positive control: within the limit, the fetch goes on
    const within = byteLimited(1000)
    within.onProgress?.({ ...progress, bytes: 1000, totalBytes: 1000 })
    expect(within.signal?.aborted).toBe(false)
    // more bytes than declared, or a root that says the DAG is bigger, stop it with an error naming the limit
    for (const over of [{ bytes: 1001, totalBytes: 0 }, { bytes: 10, totalBytes: 5000 }]) {
      const limited = byteLimited(1000)
      limited.onProgress?.({ ...progress, ...over })
      expect(limited.signal?.aborted).toBe(true)
      expect((limited.signal?.reason as Error).message).toMatch(/bigger than the 1000 bytes/)
    }
    // the caller's signal still stops it
    const caller = new AbortController()
    const both = byteLimited(1000, caller.signal)
    caller.abort()
    expect(both.signal?.aborted).toBe(true)
  })

  it('-S parses as dvc exp run --set-param', () => {
    expect(parseParamSet('train.lr=0.2')).toEqual({ file: 'params.yaml', key: ['train', 'lr'], value: 0.2 })
    expect(parseParamSet('conf/p.yaml:model.layers=[1, 2]')).toEqual({ file: 'conf/p.yaml', key: ['model', 'layers'], value: [1, 2] })
    expect(parseParamSet('name=abc')).toEqual({ file: 'params.yaml', key: ['name'], value: 'abc' })
    expect(() => parseParamSet('lr')).toThrow(/key=value/)
    expect(() => parseParamSet('../x.yaml:a=1')).toThrow(/inside the project/)
    expect(() => parseParamSet('train.py:a=1')).toThrow(/YAML params file/)
    expect(() => parseParamSet('a..b=1')).toThrow(/empty part/)
  })
})
