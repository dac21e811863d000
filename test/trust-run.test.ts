import { randomBytes, randomUUID } from 'node:crypto'
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromString } from '@libp2p/peer-id'
import { multiaddr } from '@multiformats/multiaddr'
import { MAX_FRAME_BYTES, MsgType } from '@mlp/proto'
import { FAKE_NVIDIA_SMI, sleepers, startTrustedPair } from './helpers/exec.js'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { parse } from 'yaml'
import { EXEC_PROTOCOL, type ExecEvent, type JobSpec } from '../packages/daemon/src/exec/protocol.js'
import { createNode } from '../packages/daemon/src/net/node.js'
import { channel } from '../packages/daemon/src/net/streams.js'
import { stageKey } from '../packages/daemon/src/pipeline/runcache.js'
import { signResult } from '../packages/daemon/src/trust/results.js'
import { alive, mlp, mlpJson, tempDir, waitFor } from './helpers/cli.js'
import { DaemonPool, type TestDaemon } from './helpers/daemons.js'
import { startLyingExecutor } from './helpers/lying-executor.js'
import { newProject } from './helpers/project.js'

// Running code needs both sides' consent (`trust add --run` on the executor,
// `--results` on the requester), results are signed by the executor, and a
// peer's job runs sandboxed. GPU daemons find a fake nvidia-smi on PATH.
const GPU_PATH = `${FAKE_NVIDIA_SMI}:${process.env.PATH ?? ''}`
const CANARY = `canary-${randomBytes(6).toString('hex')}`
const GPU_ENV = { PATH: GPU_PATH, MLP_TEST_CANARY: CANARY }

// tests that start daemons of their own get 120 s: several daemon starts on a loaded 2-core machine
const pool = new DaemonPool()
let alice: TestDaemon
let gpu: TestDaemon
beforeAll(async () => {
  // both sides consent: alice may run stages on gpu, and alice believes gpu's results
  ({ alice, gpu } = await startTrustedPair(pool, GPU_ENV))
})
afterAll(async () => { await pool.cleanup() })

/** One stage of mlp.yaml; the command is a YAML double-quoted (JSON) string, so any shell text fits. */
function stage (name: string, cmd: string, outs: string[], gpus = 1): string {
  return `  ${name}:\n    cmd: ${JSON.stringify(cmd)}\n    deps: [in.txt]\n    outs: [${outs.join(', ')}]\n${gpus > 0 ? `    resources:\n      gpu: ${gpus}\n` : ''}`
}

async function project (home: string, stages: string[], input = 'input\n'): Promise<string> {
  const proj = await newProject(home)
  writeFileSync(join(proj, 'in.txt'), input)
  writeFileSync(join(proj, 'mlp.yaml'), `stages:\n${stages.join('')}`)
  return proj
}

/** A directory of links to every program in /usr/bin but bwrap: a PATH on which bubblewrap is missing. */
async function pathWithoutBwrap (): Promise<string> {
  const dir = await tempDir('no-bwrap-')
  for (const name of readdirSync('/usr/bin')) if (name !== 'bwrap') symlinkSync(join('/usr/bin', name), join(dir, name))
  return `${FAKE_NVIDIA_SMI}:${dir}`
}

describe('both sides consent', () => {
  it('a stage sent to a --run/--results pair runs there and its signed result is accepted (positive control)', async () => {
    const proj = await project(alice.home, [stage('train', 'echo "$MLP_EXECUTOR_PEER_ID $(cat in.txt)" > train.txt', ['train.txt'])])
    const r = await mlp(alice.home, ['repro'], { cwd: proj })
    expect(r.code, r.stderr).toBe(0)
    expect(r.stdout).toContain(`train done (ran on ${gpu.peerId})`)
    expect(readFileSync(join(proj, 'train.txt'), 'utf8')).toBe(`${gpu.peerId} input\n`)
    expect(readFileSync(join(proj, 'mlp.lock'), 'utf8')).toContain(`ran_on: ${gpu.peerId}`)
    expect(await mlpJson(alice.home, ['trust', 'ls'])).toEqual([{ peerId: gpu.peerId, roles: ['results'] }])
    expect(await mlpJson(gpu.home, ['trust', 'ls'])).toEqual([{ peerId: alice.peerId, roles: ['run'] }])
  })

  it('a GPU peer without --results is never chosen; one without --run on the executor refuses; both grants run', async () => {
    const req = await pool.start()
    const g2 = await pool.start(undefined, undefined, GPU_ENV)
    await mlpJson(req.home, ['peers', 'add', g2.addrs[0]])
    await mlpJson(g2.home, ['trust', 'add', req.peerId, '--run'])
    const proj = await project(req.home, [stage('train', 'echo ran > train.txt', ['train.txt'])])

    const unchosen = await mlp(req.home, ['repro'], { cwd: proj })
    expect(unchosen.code).not.toBe(0)
    expect(unchosen.stderr).toContain(`mlp trust add ${g2.peerId} --results`)
    expect(unchosen.stderr).toContain('--local')
    expect(await mlpJson(g2.home, ['jobs'])).toEqual([])

    await mlpJson(req.home, ['trust', 'add', g2.peerId, '--results'])
    await mlpJson(g2.home, ['trust', 'rm', req.peerId, '--run'])
    const refused = await mlp(req.home, ['repro'], { cwd: proj })
    expect(refused.code).not.toBe(0)
    expect(refused.stderr).toContain(`does not trust ${req.peerId} to run stages`)
    expect(refused.stderr).toContain(`mlp trust add ${req.peerId} --run`)
    expect(existsSync(join(proj, 'train.txt'))).toBe(false)

    await mlpJson(g2.home, ['trust', 'add', req.peerId, '--run'])
    const ran = await mlp(req.home, ['repro'], { cwd: proj })
    expect(ran.code, ran.stderr).toBe(0)
    expect(readFileSync(join(proj, 'train.txt'), 'utf8')).toBe('ran\n')
  }, 120_000)

  it('trust add needs a role; old trust.json lists are read as --run grants; rm without a flag takes every role', async () => {
    const r = await mlp(alice.home, ['trust', 'add', gpu.peerId])
    expect(r.code).toBe(2)
    expect(r.stderr).toContain('--run')
    expect(r.stderr).toContain('--results')

    const home = await pool.home()
    writeFileSync(join(home, 'trust.json'), JSON.stringify([alice.peerId]))
    const old = await pool.start(home)
    expect(await mlpJson(old.home, ['trust', 'ls'])).toEqual([{ peerId: alice.peerId, roles: ['run'] }])
    await mlpJson(old.home, ['trust', 'add', gpu.peerId, '--run', '--results'])
    expect(await mlpJson(old.home, ['trust', 'rm', gpu.peerId])).toEqual([{ peerId: alice.peerId, roles: ['run'] }])
  })

  it('trust rm --run ends that peer\'s running job at once', async () => {
    const token = `118.${Date.now() % 1_000_000}`
    const proj = await project(alice.home, [stage('long', `sleep ${token} && echo > long.txt`, ['long.txt'])], 'long\n')
    const repro = mlp(alice.home, ['repro'], { cwd: proj })
    await waitFor('the job to start on the executor', () => sleepers(token).length > 0, 30_000)
    const pids = sleepers(token)
    try {
      await mlpJson(gpu.home, ['trust', 'rm', alice.peerId, '--run'])
      const r = await repro
      expect(r.code).not.toBe(0)
      expect(r.stderr).toContain(`no longer lets ${alice.peerId} run stages`)
      await waitFor('the job\'s processes to be gone', () => pids.every((p) => !alive(p)), 15_000)
    } finally {
      await mlpJson(gpu.home, ['trust', 'add', alice.peerId, '--run'])
    }
  })
})

describe('a lying executor', () => {
  it('an undeclared out, a replaced cid without a valid signature, or a result signed by someone else is rejected and nothing is written', async () => {
    const req = await pool.start()
    const liar = await startLyingExecutor(req.home)
    try {
      await mlpJson(req.home, ['peers', 'add', liar.addr])
      // the requester trusts it: the attack is an executor that lies, or a forged answer in its name
      await mlpJson(req.home, ['trust', 'add', liar.peerId, '--results'])
      const proj = await project(req.home, [stage('train', 'echo honest > model.pt', ['model.pt'])])
      const sibling = join(dirname(proj), `sibling-${randomBytes(4).toString('hex')}`)
      mkdirSync(sibling)
      writeFileSync(join(sibling, 'keep.txt'), 'mine\n')
      const siblingPath = `../${sibling.split('/').pop() as string}`
      const trojan = 'bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku'
      const attempts: Array<{ lie: Parameters<typeof liar.setLie>[0], says: string }> = [
        { lie: async (spec, key, self) => ({ event: 'done', ...await signResult(spec.key, key, self, [{ path: 'model.pt', cid: trojan, size: 5 }, { path: siblingPath, cid: trojan, size: 5 }]) }), says: `out '${siblingPath}' is not one the stage declares` },
        { lie: async (spec, key, self) => ({ event: 'done', ...await signResult(spec.key, key, self, [{ path: 'model.pt', cid: trojan, size: 5 }]), sig: Buffer.alloc(64).toString('base64') }), says: 'signature does not verify' },
        { lie: async (_spec, _key, self) => ({ event: 'done', outs: [{ path: 'model.pt', cid: trojan, size: 5 }], ranOn: self, at: new Date().toISOString() }) as never, says: 'not a signed result' },
        { lie: async (spec, key) => ({ event: 'done', ...await signResult(spec.key, key, alice.peerId, [{ path: 'model.pt', cid: trojan, size: 5 }]) }), says: `signed as ${alice.peerId}, not by the executor` }
      ]
      for (const { lie, says } of attempts) {
        liar.setLie(lie)
        const r = await mlp(req.home, ['repro'], { cwd: proj })
        expect(r.code).not.toBe(0)
        expect(r.stderr).toContain(`rejected the result of stage 'train' from ${liar.peerId}`)
        expect(r.stderr).toContain(says)
        expect(existsSync(join(proj, 'model.pt'))).toBe(false)
        expect(existsSync(join(proj, 'mlp.lock'))).toBe(false)
        expect(readdirSync(sibling)).toEqual(['keep.txt'])
        expect(readFileSync(join(sibling, 'keep.txt'), 'utf8')).toBe('mine\n')
      }
      expect(liar.jobs().length).toBe(attempts.length)
      rmSync(sibling, { recursive: true })
    } finally {
      await liar.node.stop()
    }
  })
})

describe('a lying requester', () => {
  it('cannot make a trusted executor sign another command\'s result under a stage\'s key', async () => {
    // alice runs the real stage on gpu: its key and inputs are in mlp.lock
    const cmd = 'echo honest > model.pt'
    const proj = await project(alice.home, [stage('train', cmd, ['model.pt'])], 'victim\n')
    expect((await mlp(alice.home, ['repro'], { cwd: proj })).code).toBe(0)
    const lock = parse(readFileSync(join(proj, 'mlp.lock'), 'utf8')) as { stages: { train: { deps: Array<{ path: string, cid: string, size: number }> } } }
    const deps = lock.stages.train.deps
    const key = stageKey([cmd], deps, {}, ['model.pt'])

    // mallory may run stages on gpu, and sends a trojan under that key
    const mallory = await createNode({ privateKey: await generateKeyPair('Ed25519'), listen: ['/ip4/127.0.0.1/tcp/0'], mdns: false, swarmKey: readFileSync(join(gpu.home, 'swarm.key')) })
    try {
      await mlpJson(gpu.home, ['trust', 'add', mallory.peerId.toString(), '--run'])
      await mallory.dial(multiaddr(gpu.addrs[0]))
      const spec: JobSpec = { id: randomUUID(), stage: 'train', cmd: ['echo trojan > model.pt'], wdir: '.', inputs: deps.map((d) => ({ path: d.path, cid: d.cid })), outs: [{ path: 'model.pt', cache: true }], gpu: 1, deps: deps.map((d) => ({ path: d.path, cid: d.cid })), params: {}, key }
      const ch = channel(await mallory.dialProtocol(peerIdFromString(gpu.peerId), EXEC_PROTOCOL), { maxFrameBytes: MAX_FRAME_BYTES })
      await ch.send({ type: MsgType.Json, req: 0, json: JSON.stringify({ op: 'run', spec }) })
      const events: ExecEvent[] = []
      for await (const msg of ch.messages()) {
        if (msg.type === MsgType.Json) events.push(JSON.parse(msg.json) as ExecEvent)
        if (events.some((e) => e.event === 'failed' || e.event === 'done')) break
      }
      expect(events.at(-1)).toMatchObject({ event: 'failed', message: expect.stringContaining('the stage key does not match') })
    } finally {
      await mallory.stop()
    }
    // another teammate trusting gpu gets the honest result from gpu's run cache
    const bob = await pool.start()
    await mlpJson(bob.home, ['peers', 'add', gpu.addrs[0]])
    await mlpJson(bob.home, ['trust', 'add', gpu.peerId, '--results'])
    const pb = await project(bob.home, [stage('train', cmd, ['model.pt'])], 'victim\n')
    const r = await mlp(bob.home, ['repro'], { cwd: pb })
    expect(r.code, r.stderr).toBe(0)
    expect(r.stdout).toContain(`restored train from ${gpu.peerId}`)
    expect(readFileSync(join(pb, 'model.pt'), 'utf8')).toBe('honest\n')
  }, 120_000)
})

describe('the shared run cache', () => {
  it('an entry signed by a peer without --results here is not believed: the stage runs here', async () => {
    const x = await pool.start()
    const y = await pool.start()
    await mlpJson(x.home, ['peers', 'add', y.addrs[0]])
    const cmd = 'echo "$MLP_EXECUTOR_PEER_ID" > who.txt'
    const py = await project(y.home, [stage('who', cmd, ['who.txt'], 0)], 'same\n')
    expect((await mlp(y.home, ['repro'], { cwd: py })).code).toBe(0)
    expect(readFileSync(join(py, 'who.txt'), 'utf8')).toBe(`${y.peerId}\n`)

    const px = await project(x.home, [stage('who', cmd, ['who.txt'], 0)], 'same\n')
    const r = await mlpJson<Array<{ stage: string, status: string }>>(x.home, ['repro'], { cwd: px })
    expect(r).toEqual([expect.objectContaining({ stage: 'who', status: 'ran' })])
    expect(readFileSync(join(px, 'who.txt'), 'utf8')).toBe(`${x.peerId}\n`)
  }, 120_000)

  it('an entry signed by a --results executor is believed when a third teammate relays it', async () => {
    const a = await pool.start()
    const b = await pool.start(undefined, undefined, GPU_ENV)
    const c = await pool.start()
    // c has b run its stage, so c's run cache holds b's signed result
    await mlpJson(c.home, ['peers', 'add', b.addrs[0]])
    await mlpJson(b.home, ['trust', 'add', c.peerId, '--run'])
    await mlpJson(c.home, ['trust', 'add', b.peerId, '--results'])
    const cmd = 'echo "$MLP_EXECUTOR_PEER_ID" > train.txt'
    const pc = await project(c.home, [stage('train', cmd, ['train.txt'])], 'relay\n')
    const ran = await mlp(c.home, ['repro'], { cwd: pc })
    expect(ran.code, ran.stderr).toBe(0)
    expect(ran.stdout).toContain(`ran on ${b.peerId}`)
    // b goes away: only c can answer a, and a trusts b's signature, not c
    await mlpJson(b.home, ['daemon', 'stop'])
    await mlpJson(a.home, ['peers', 'add', c.addrs[0]])
    await mlpJson(a.home, ['trust', 'add', b.peerId, '--results'])
    const pa = await project(a.home, [stage('train', cmd, ['train.txt'])], 'relay\n')
    const r = await mlp(a.home, ['repro'], { cwd: pa })
    expect(r.code, r.stderr).toBe(0)
    expect(r.stdout).toContain(`restored train from ${c.peerId}`)
    expect(readFileSync(join(pa, 'train.txt'), 'utf8')).toBe(`${b.peerId}\n`)
    expect(readFileSync(join(pa, 'mlp.lock'), 'utf8')).toContain(`ran_on: ${b.peerId}`)
  }, 120_000)
})

describe('a peer\'s job is sandboxed', () => {
  it('cannot read the executor identity key, write its trust list, or see its environment', async () => {
    const key = join(gpu.home, 'identity.key')
    const trustFile = join(gpu.home, 'trust.json')
    const trustBefore = readFileSync(trustFile)
    const cmd = [
      `cat ${key} > stolen.txt 2>&1`,
      `echo '["12D3KooWevil"]' >> ${trustFile} 2>> stolen.txt`,
      // a daemon running as root (CI, many lab boxes) must not hand its job the capabilities to undo the sandbox
      `(umount -l ${gpu.home} || umount -l /tmp; cat ${key}) >> stolen.txt 2>&1`,
      'grep CapEff /proc/self/status >> stolen.txt',
      // the job's own environment, and every environment its /proc shows
      '(env; cat /proc/[0-9]*/environ | tr "\\0" "\\n") > env.txt 2>/dev/null',
      'true'
    ].join('; ')
    const proj = await project(alice.home, [stage('steal', cmd, ['stolen.txt', 'env.txt'])], 'steal\n')
    const r = await mlp(alice.home, ['repro'], { cwd: proj })
    expect(r.code, r.stderr).toBe(0)
    const stolen = readFileSync(join(proj, 'stolen.txt'))
    expect(stolen.includes(readFileSync(key))).toBe(false)
    expect(stolen.toString()).toContain('No such file or directory')
    // no capability left (CapEff all zero), so no unmount could reveal MLP_HOME
    expect(stolen.toString()).toMatch(/CapEff:\s+0+\n/)
    expect(readFileSync(trustFile)).toEqual(trustBefore)
    const env = readFileSync(join(proj, 'env.txt'), 'utf8')
    expect(env).toContain(`MLP_EXECUTOR_PEER_ID=${gpu.peerId}`)
    expect(env).not.toContain(CANARY)
    expect(env).not.toContain(`MLP_HOME=${gpu.home}`)
  })

  it('with `executor: {sandbox: false}` a job runs without bwrap; without bwrap and no opt-out it fails closed in one line', async () => {
    const path = await pathWithoutBwrap()
    const optedOut = await pool.home()
    writeFileSync(join(optedOut, 'config.yaml'), 'executor:\n  sandbox: false\n')
    const plain = await pool.start(optedOut, undefined, { PATH: path, MLP_TEST_CANARY: CANARY })
    const strict = await pool.start(undefined, undefined, { PATH: path })
    for (const ex of [plain, strict]) {
      await mlpJson(alice.home, ['peers', 'add', ex.addrs[0]])
      await mlpJson(ex.home, ['trust', 'add', alice.peerId, '--run'])
    }
    // unsandboxed, the job sees the executor's home (that is what the opt-out means); its environment is still scrubbed
    const cmd = (ex: TestDaemon): string => `(test -e ${join(ex.home, 'identity.key')} && echo home-visible || echo home-hidden; env) > out.txt`
    const stageOn = (ex: TestDaemon): string => `${stage('job', cmd(ex), ['out.txt'])}    run_on: ${ex.peerId}\n`
    try {
      await mlpJson(alice.home, ['trust', 'add', plain.peerId, '--results'])
      const pp = await project(alice.home, [stageOn(plain)], 'plain\n')
      const ok = await mlp(alice.home, ['repro'], { cwd: pp })
      expect(ok.code, ok.stderr).toBe(0)
      const out = readFileSync(join(pp, 'out.txt'), 'utf8')
      expect(out).toContain('home-visible')
      expect(out).not.toContain(CANARY)

      await mlpJson(alice.home, ['trust', 'add', strict.peerId, '--results'])
      const ps = await project(alice.home, [stageOn(strict)], 'strict\n')
      const failed = await mlp(alice.home, ['repro', '--json'], { cwd: ps })
      expect(failed.code).not.toBe(0)
      const message = (JSON.parse(failed.stdout) as { error: { message: string } }).error.message
      expect(message).toContain('bubblewrap (bwrap) is not on the executor\'s PATH')
      expect(message).toContain('executor: {sandbox: false}')
      expect(message).not.toContain('\n')
      expect(existsSync(join(ps, 'out.txt'))).toBe(false)
    } finally {
      await mlpJson(alice.home, ['trust', 'rm', plain.peerId])
      await mlpJson(alice.home, ['trust', 'rm', strict.peerId])
    }
  }, 120_000)

  it('a bad executor key in config.yaml stops the daemon with file and line', async () => {
    const home = await pool.home()
    writeFileSync(join(home, 'config.yaml'), 'mdns: false\nexecutor:\n  sandbox: maybe\n')
    const r = await mlp(home, ['daemon', 'start', '--listen', '/ip4/127.0.0.1/tcp/0'])
    expect(r.code).not.toBe(0)
    expect(r.stderr).toContain("config.yaml:3: 'executor.sandbox' must be true or false")
  })
})
