import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import type { ExpRecord } from '@mlp/proto'
import { afterAll, describe, expect, it } from 'vitest'
import { MAX_REASON_LENGTH } from '../src/exp/constants.js'
import { oneLineReason, recordProblem, signRecord, verifyRecord } from '../src/exp/record.js'
import { ExpRecords } from '../src/exp/records.js'
import { INTERRUPTED_REASON, recoverInterrupted } from '../src/exp/recover.js'
import { failureReason } from '../src/exp/run.js'
import { parseParamSet } from '../src/exp/set-params.js'
import type { Logger } from '../src/logger.js'

const dir = await mkdtemp(join(tmpdir(), 'mlp-exp-reason-'))
afterAll(async () => { await rm(dir, { recursive: true, force: true }) })

const alice = await generateKeyPair('Ed25519')
const aliceId = peerIdFromPrivateKey(alice).toString()
const bob = await generateKeyPair('Ed25519')
const bobId = peerIdFromPrivateKey(bob).toString()
const PROJECT = '0123456789abcdef0123456789abcdef'
const quiet = { info: () => {}, warn: () => {}, debug: () => {}, error: () => {} } as unknown as Logger

function draft (over: Partial<ExpRecord> = {}): Omit<ExpRecord, 'sig'> {
  return { v: 1, project: PROJECT, author: aliceId, name: 'run-1', state: 'running', base: 'a'.repeat(40), params: [], metrics: [], locks: [], ranOn: {}, startedAt: '2026-01-01T00:00:00.000Z', durationMs: 0, at: '2026-01-01T00:00:00.000Z', ...over }
}

describe('the reason of a failed record', () => {
  it('is one line of shown text, checked like every other shown field', async () => {
    const failed = await signRecord(draft({ state: 'failed', reason: 'stage \'train\' failed' }), alice)
    expect(await verifyRecord(failed)).toBeUndefined()
    expect(recordProblem({ ...failed, reason: 'a\u202eb' })).toBe('bad reason')
    expect(recordProblem({ ...failed, reason: 'two\nlines' })).toBe('bad reason')
    expect(recordProblem({ ...failed, reason: 'x'.repeat(MAX_REASON_LENGTH + 1) })).toBe('bad reason')
    expect(recordProblem({ ...failed, reason: 3 })).toBe('bad reason')
    // it is signed: changing it breaks the signature
    expect(await verifyRecord({ ...failed, reason: 'something else' })).toMatch(/signature/)
  })

  it('is made one line from any error text, cut on a code point', () => {
    expect(oneLineReason('Error: boom\n  at x\u001b[31m')).toBe('Error: boom at x [31m')
    const long = oneLineReason('\u{1F600}'.repeat(MAX_REASON_LENGTH))
    expect(long.length).toBeLessThanOrEqual(MAX_REASON_LENGTH)
    expect(long.endsWith('...')).toBe(true)
    expect(recordProblem({ ...draft({ state: 'failed', reason: long }), sig: 'x' })).toBeUndefined()
    expect(failureReason(undefined, [{ stage: 'train', status: 'ran', reasons: [] }])).toBeUndefined()
    expect(failureReason(undefined, [{ stage: 'train', status: 'failed', reasons: ['command exited with code 1: node train.js'] }])).toBe("stage 'train' failed: command exited with code 1: node train.js")
    expect(failureReason(new Error('no reachable peer holds it\nmore'), [])).toBe('Error: no reachable peer holds it')
  })
})

describe('recovering after the daemon stopped', () => {
  it('fails only this daemon\'s running records; queued, done and a teammate\'s running ones are left', async () => {
    const records = new ExpRecords(join(dir, 'exps'))
    const mine = [
      await signRecord(draft({ name: 'cut', state: 'running' }), alice),
      await signRecord(draft({ name: 'waiting', state: 'queued' }), alice),
      await signRecord(draft({ name: 'finished', state: 'done', durationMs: 5 }), alice)
    ]
    const theirs = await signRecord(draft({ author: bobId, name: 'theirs', state: 'running' }), bob)
    await records.putMany([...mine, theirs])
    const workDir = join(dir, 'exp-runs')
    const names = await recoverInterrupted({ records, privateKey: alice, self: aliceId, workDir, log: quiet })
    expect(names).toEqual(['cut'])
    const cut = records.get(PROJECT, aliceId, 'cut') as ExpRecord
    expect(cut).toMatchObject({ state: 'failed', reason: INTERRUPTED_REASON })
    expect(cut.at > mine[0].at).toBe(true)
    expect(await verifyRecord(cut)).toBeUndefined()
    expect(records.get(PROJECT, aliceId, 'waiting')?.state).toBe('queued')
    expect(records.get(PROJECT, aliceId, 'finished')).toEqual(mine[2])
    expect(records.get(PROJECT, bobId, 'theirs')?.state).toBe('running')
    // kept on disk: a second start finds nothing left to fail
    const again = new ExpRecords(join(dir, 'exps'))
    await again.load()
    expect(again.get(PROJECT, aliceId, 'cut')?.state).toBe('failed')
    expect(await recoverInterrupted({ records: again, privateKey: alice, self: aliceId, workDir, log: quiet })).toEqual([])
  })
})

describe('-S and hidden characters', () => {
  it('refuses a control or invisible character in the file, key or value, as the record check would; tabs in a value pass', () => {
    for (const text of ['lr\u202e=1', 'params.yaml\u200b:lr=1', 'l\u001br=1', 'lr=a\u2066b', 'lr="a\\u202eb"', 'lr={"k\u200b": 1}']) {
      expect(() => parseParamSet(text), JSON.stringify(text)).toThrow(/control or invisible character/)
    }
    // positive controls
    expect(parseParamSet('train.lr=0.2')).toEqual({ file: 'params.yaml', key: ['train', 'lr'], value: 0.2 })
    expect(parseParamSet('lr="a\tb"').value).toBe('a\tb')
  })
})
