import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import type { ExpRecord } from '@mlp/proto'
import { afterAll, describe, expect, it } from 'vitest'
import { canonicalJson, recordProblem, signRecord, verifyRecord } from '../src/exp/record.js'
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
      [{ locks: [{ path: 'mlp.lock', text: 'x'.repeat(300 * 1024) }] }, /bytes/]
    ]
    for (const [change, why] of bad) expect(recordProblem({ ...ok, ...change, sig: 'x' }), JSON.stringify(change).slice(0, 80)).toMatch(why)
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
