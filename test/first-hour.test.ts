import { execFileSync, spawn } from 'node:child_process'
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { MLP_BIN, mlp, mlpJson, tempDir, waitFor } from './helpers/cli.js'
import { DaemonPool, type TestDaemon } from './helpers/daemons.js'
import { newProject, writeRandom } from './helpers/project.js'

// What a new user meets in the first hour: versions and help, suggestions for
// typos, a daemon.log that stays JSON.
const pool = new DaemonPool()
afterAll(async () => { await pool.cleanup() })

/** `mlp cat <cid>` whose reader hangs up after the first chunk: the daemon's stream fails mid-way. */
async function catAndHangUp (home: string, cid: string): Promise<void> {
  const child = spawn(process.execPath, [MLP_BIN, 'cat', cid], { env: { ...process.env, NODE_ENV: undefined, MLP_HOME: home }, stdio: ['ignore', 'pipe', 'ignore'] })
  child.stdout.once('data', () => { child.stdout.destroy() })
  const timer = setTimeout(() => { child.kill('SIGKILL') }, 30_000)
  await new Promise((resolve) => child.on('close', resolve))
  clearTimeout(timer)
}

describe('version, help and typos', () => {
  let d: TestDaemon
  beforeAll(async () => { d = await pool.start() })

  it('`mlp version`, `--version` and `-V` give the CLI and the running daemon versions', async () => {
    const cliVersion = (JSON.parse(readFileSync(new URL('../packages/cli/package.json', import.meta.url), 'utf8')) as { version: string }).version
    const report = await mlpJson(d.home, ['version'])
    expect(report).toMatchObject({ cli: cliVersion, daemon: cliVersion, daemonPid: d.pid })
    expect(report.warning).toBeUndefined()
    for (const flag of ['--version', '-V']) {
      const r = await mlp(d.home, [flag])
      expect(r.code).toBe(0)
      expect(r.stdout).toContain(`mlp CLI     ${cliVersion}`)
      expect(r.stdout).toContain(`mlp daemon  ${cliVersion} (pid ${d.pid})`)
    }
    // `-v` stays free (verbose, as in DVC): it is not the version
    expect((await mlp(d.home, ['-v'])).stdout).not.toContain('mlp CLI')
  })

  it('`mlp version` without a daemon says how to start one', async () => {
    const r = await mlp(await tempDir(), ['version'])
    expect(r.code).toBe(0)
    expect(r.stdout).toContain('not running (start it with `mlp daemon start`)')
  })

  it('`mlp help` lists the commands and `mlp help <command>` shows its help', async () => {
    const all = await mlp(d.home, ['help'])
    expect(all.code).toBe(0)
    expect(all.stdout).toContain('status')
    expect(all.stdout).toContain('version')
    const one = await mlp(d.home, ['help', 'stage', 'add'])
    expect(one.code).toBe(0)
    expect(one.stdout).toContain('$ mlp stage add')
  })

  it('a typo gets the closest command, an unknown subcommand the user\'s own words', async () => {
    const typo = await mlp(d.home, ['stauts'])
    expect(typo.code).toBe(2)
    expect(typo.stderr.trim()).toBe('Error: `mlp stauts` is not an mlp command: did you mean `mlp status`? (see mlp help)')
    const sub = await mlp(d.home, ['stage', 'rm', 'bad'])
    expect(sub.code).toBe(2)
    expect(sub.stderr.trim()).toBe('Error: `mlp stage rm bad` is not an mlp command: `mlp stage` has add (see mlp stage --help)')
    expect(sub.stderr).not.toContain('stage:rm')
    const help = await mlp(d.home, ['help', 'stauts'])
    expect(help.code).toBe(2)
    expect(help.stderr).toContain('did you mean `mlp status`?')
    // positive control: the command itself runs
    expect((await mlp(d.home, ['status'], { cwd: await newProject(d.home) })).code).toBe(0)
  })
})

describe('daemon.log', () => {
  it('stays one JSON object per line through many failing and long streamed reads, and process warnings are logged', async () => {
    // a preload that emits a process warning on demand, to see where it lands
    const preload = join(await tempDir(), 'warn-on-usr2.cjs')
    writeFileSync(preload, "process.on('SIGUSR2', () => { process.emitWarning('probe warning from the test', 'ProbeWarning') })\n")
    const d = await pool.start(undefined, undefined, { NODE_OPTIONS: `--require ${preload}` })
    const project = await newProject(d.home)
    writeRandom(join(project, 'big.bin'), 24 * 1024 * 1024)
    const [added] = await mlpJson<Array<{ cid: string }>>(d.home, ['add', 'big.bin'], { cwd: project })
    const missing = 'bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy'

    for (let i = 0; i < 30; i++) {
      if (i % 3 === 0) {
        const r = await mlp(d.home, ['cat', missing])
        expect(r.code).not.toBe(0)
        expect(r.stderr).toContain('not in the local store')
      } else {
        await catAndHangUp(d.home, added.cid)
      }
    }
    // whole reads of a file many buffers long: each used to leave a listener per full buffer
    for (let i = 0; i < 3; i++) {
      const r = await mlp(d.home, ['cat', added.cid], { env: { NODE_OPTIONS: '' } })
      expect(r.code).toBe(0)
      expect(r.stdout.length).toBeGreaterThan(0)
    }

    process.kill(d.pid, 'SIGUSR2')
    const logFile = join(d.home, 'daemon.log')
    await waitFor('the probe warning in daemon.log', () => readFileSync(logFile, 'utf8').includes('probe warning from the test'))
    const lines = readFileSync(logFile, 'utf8').split('\n').filter((l) => l !== '')
    for (const line of lines) expect(() => JSON.parse(line), `not JSON: ${line}`).not.toThrow()
    const entries = lines.map((l) => JSON.parse(l) as { level: string, msg: string, name?: string, warning?: string })
    expect(entries.find((e) => e.msg === 'process warning' && e.name === 'ProbeWarning')).toMatchObject({ level: 'warn', warning: 'probe warning from the test' })
    expect(entries.filter((e) => e.name === 'MaxListenersExceededWarning' || JSON.stringify(e).includes('MaxListeners'))).toEqual([])
  }, 300_000)
})

describe('job ids', () => {
  it('a prefix too short, or naming no job, gets a clear line; a whole unknown id too', async () => {
    const d = await pool.start()
    const short = await mlp(d.home, ['cancel', 'e5a'])
    expect(short.code).toBe(1)
    expect(short.stderr.trim()).toBe("Error: job id 'e5a' is too short: give at least 4 characters (see `mlp jobs`)")
    for (const args of [['cancel', 'e5ad8e1d'], ['logs', 'e5ad8e1d'], ['jobs', 'e5ad8e1d']]) {
      const r = await mlp(d.home, args)
      expect(r.code, args.join(' ')).toBe(1)
      expect(r.stderr.trim()).toBe('Error: no job e5ad8e1d on this machine: see `mlp jobs`')
    }
    // positive control: the list itself answers
    expect(await mlpJson(d.home, ['jobs'])).toEqual([])
  })
})

describe('read-only commands without a daemon', () => {
  it('`mlp dag`, `mlp params diff` and `mlp metrics show` read the files and git; `mlp status` still needs the daemon', async () => {
    const home = await tempDir('mlp-nodaemon-')
    const proj = await tempDir('mlp-proj-')
    const git = (...args: string[]): void => { execFileSync('git', args, { cwd: proj, stdio: 'ignore' }) }
    git('init', '-q')
    git('config', 'user.email', 'test@example.com')
    git('config', 'user.name', 'test')
    mkdirSync(join(proj, '.mlp'))
    writeFileSync(join(proj, 'mlp.yaml'), [
      'stages:',
      '  prepare:',
      '    cmd: python prepare.py',
      '    deps: [data/raw]',
      '    outs: [data/clean]',
      '  train:',
      '    cmd: python train.py',
      '    deps: [data/clean]',
      '    params: [train.lr]',
      '    outs: [model.pt]',
      '    metrics: [{metrics.json: {cache: false}}]',
      ''
    ].join('\n'))
    writeFileSync(join(proj, 'params.yaml'), 'train:\n  lr: 0.1\n')
    git('add', '-A')
    git('commit', '-q', '-m', 'pipeline')
    writeFileSync(join(proj, 'params.yaml'), 'train:\n  lr: 0.2\n')
    writeFileSync(join(proj, 'metrics.json'), JSON.stringify({ acc: 0.9 }))

    const dag = await mlpJson(home, ['dag'], { cwd: proj })
    expect(dag.edges).toEqual([['prepare', 'train']])
    expect(dag.stages.map((s: { name: string }) => s.name)).toEqual(['prepare', 'train'])
    const text = await mlp(home, ['dag'], { cwd: proj })
    expect(text.stdout).toContain('train  <- prepare')

    expect(await mlpJson(home, ['params', 'diff'], { cwd: proj })).toEqual([{ file: 'params.yaml', key: 'train.lr', old: 0.1, new: 0.2 }])
    expect(await mlpJson(home, ['metrics', 'show'], { cwd: proj })).toEqual([{ file: 'metrics.json', key: 'acc', value: 0.9 }])

    // a bad pipeline is still one clear line, without a daemon
    const outside = await mlp(home, ['dag'], { cwd: home })
    expect(outside.code).toBe(1)
    expect(outside.stderr).toContain('is not inside an mlp project')

    // control: a command that does need the daemon says how to start it
    const status = await mlp(home, ['status'], { cwd: proj })
    expect(status.code).toBe(1)
    expect(status.stderr).toContain('mlp daemon start')
  })
})

describe('mlp doctor', () => {
  interface Check { name: string, status: string, detail: string, fix?: string }
  const byName = (checks: Check[]): Record<string, Check> => Object.fromEntries(checks.map((c) => [c.name, c]))

  it('without a daemon: the daemon checks fail and say `mlp daemon start`, the rest still run', async () => {
    const home = await tempDir('mlp-doctor-')
    const r = await mlp(home, ['doctor', '--json'], { cwd: home })
    expect(r.code).toBe(1)
    const report = JSON.parse(r.stdout) as { ok: boolean, checks: Check[] }
    expect(report.ok).toBe(false)
    const c = byName(report.checks)
    expect(c.daemon).toMatchObject({ status: 'fail', detail: `no daemon is running for MLP_HOME=${home}`, fix: 'start it with `mlp daemon start`' })
    for (const name of ['listen addresses', 'peers', 'trust']) expect(c[name].fix).toBe('start it with `mlp daemon start`')
    expect(c.disk.status).toBe('ok')
    expect(c.project).toMatchObject({ status: 'info', detail: 'not in a git repository' })
    const text = await mlp(home, ['doctor'], { cwd: home })
    expect(text.stdout).toContain('FAIL  daemon: no daemon is running')
    expect(text.stdout).toContain('fix: start it with `mlp daemon start`')
  })

  it('with a daemon, a committed project, hooks and a GPU: the checks pass, and an uncommitted .mlp/ fails', async () => {
    const fakeGpu = new URL('./fixtures/nvidia-smi', import.meta.url).pathname
    const env = { PATH: `${fakeGpu}:${process.env.PATH ?? ''}` }
    const d = await pool.start(undefined, undefined, env)
    const proj = await newProject(d.home)
    const git = (...args: string[]): void => { execFileSync('git', args, { cwd: proj, stdio: 'ignore' }) }
    git('config', 'user.email', 'test@example.com')
    git('config', 'user.name', 'test')

    const before = byName((JSON.parse((await mlp(d.home, ['doctor', '--json'], { cwd: proj, env })).stdout) as { checks: Check[] }).checks)
    expect(before.project.status).toBe('fail')
    expect(before.project.fix).toBe('`git add .mlp && git commit -m "mlp project"`')
    expect(before['git hooks']).toMatchObject({ status: 'warn', fix: 'run `mlp install`' })

    git('add', '.mlp')
    git('commit', '-q', '-m', 'mlp project')
    expect((await mlp(d.home, ['install'], { cwd: proj })).code).toBe(0)
    const r = await mlp(d.home, ['doctor', '--json'], { cwd: proj, env })
    const c = byName((JSON.parse(r.stdout) as { checks: Check[] }).checks)
    expect(c.daemon).toMatchObject({ status: 'ok', detail: `running (pid ${d.pid}), version ${(await mlpJson(d.home, ['version'])).cli as string}` })
    // reachable (an unanswered port would fail), but on 127.0.0.1 only, as tests listen
    expect(c['listen addresses']).toMatchObject({ status: 'warn', detail: `listens on this machine only (${d.addrs[0]}): teammates cannot connect` })
    expect(c.peers.detail).toBe('mDNS off; 0 connected, 0 remembered')
    expect(c['swarm key'].status).toBe('ok')
    expect(c.GPU).toMatchObject({ status: 'ok', detail: '1 GPU(s): NVIDIA H200 143771 MiB' })
    expect(c.project.status).toBe('ok')
    expect(c['git hooks']).toMatchObject({ status: 'ok', detail: 'post-checkout runs `mlp checkout`' })
    // nothing failed: loopback-only listening and no peers are warnings
    expect(r.code).toBe(0)
  })
})

/** A 127.0.0.1 port nothing listens on (bound, then released). */
async function closedPort (): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const port = (server.address() as { port: number }).port
  await new Promise((resolve) => server.close(resolve))
  return port
}

describe('mlp peers add', () => {
  it('a wrong port for a peer already connected fails and keeps the working remembered address', async () => {
    const [alice, bob] = [await pool.start(), await pool.start()]
    await mlpJson(alice.home, ['peers', 'add', bob.addrs[0]])
    const remembered = (): Array<{ peerId: string, addrs: string[] }> => JSON.parse(readFileSync(join(alice.home, 'peers.json'), 'utf8'))
    expect(remembered()).toEqual([{ peerId: bob.peerId, addrs: [bob.addrs[0]] }])

    const wrong = `/ip4/127.0.0.1/tcp/${await closedPort()}/p2p/${bob.peerId}`
    const r = await mlp(alice.home, ['peers', 'add', wrong])
    expect(r.code).toBe(1)
    expect(r.stderr).toContain(`could not connect to ${wrong}`)
    expect(remembered()).toEqual([{ peerId: bob.peerId, addrs: [bob.addrs[0]] }])
    const peers = await mlpJson<Array<{ peerId: string, state: string }>>(alice.home, ['peers'])
    expect(peers.find((p) => p.peerId === bob.peerId)?.state).toBe('connected')

    // positive control: the working address, added again while connected, is still accepted
    const again = await mlp(alice.home, ['peers', 'add', bob.addrs[0]])
    expect(again.code).toBe(0)
    expect(remembered()).toEqual([{ peerId: bob.peerId, addrs: [bob.addrs[0]] }])
  })
})
