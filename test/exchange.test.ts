import { execFileSync } from 'node:child_process'
import { mkdirSync, readdirSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { MLP_BIN, alive, mlp, mlpJson, tempDir, waitFor } from './helpers/cli.js'
import { DaemonPool, type TestDaemon } from './helpers/daemons.js'
import { startLiar } from './helpers/liar.js'
import { newProject, sha256, writeRandom } from './helpers/project.js'

const pool = new DaemonPool()
afterAll(async () => { await pool.cleanup() })

interface Fetched { root: string, blocks: number, bytes: number, alreadyHad: number, fromPeers: Record<string, { blocks: number, bytes: number }>, out?: string }

async function connect (from: TestDaemon, to: TestDaemon): Promise<void> {
  await mlpJson(from.home, ['peers', 'add', to.addrs[0]])
}

/** Bytes in a daemon's pack files. */
function packBytes (home: string): number {
  const dir = join(home, 'store', 'packs')
  return readdirSync(dir).reduce((n, f) => n + statSync(join(dir, f)).size, 0)
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

describe('sharing between three daemons', () => {
  it('A shares, B fetches byte-identical, C fetches from A and B together', async () => {
    const [a, b, c] = [await pool.start(), await pool.start(), await pool.start()]
    await connect(b, a)
    await connect(c, a)
    await connect(c, b)
    const proj = await newProject(a.home)
    const data = join(proj, 'data')
    mkdirSync(join(data, 'nested'), { recursive: true })
    writeRandom(join(data, 'big.bin'), 24_000_000)
    for (let i = 0; i < 20; i++) writeRandom(join(data, 'nested', `f${i}.bin`), 1000 + i * 500)
    const [shared] = await mlpJson<Array<{ path: string, cid: string }>>(a.home, ['share', 'data'], { cwd: proj })
    expect(shared.path).toBe('data')

    const outB = join(await tempDir(), 'copy')
    const [fb] = await mlpJson<Fetched[]>(b.home, ['fetch', shared.cid, '-o', outB])
    expect(fb.fromPeers[a.peerId].blocks).toBe(fb.blocks)
    expect(treeSums(outB)).toEqual(treeSums(data))

    const [fc] = await mlpJson<Fetched[]>(c.home, ['fetch', shared.cid])
    expect(fc.bytes).toBe(fb.bytes)
    expect(fc.fromPeers[a.peerId]?.blocks).toBeGreaterThan(0)
    expect(fc.fromPeers[b.peerId]?.blocks).toBeGreaterThan(0)
    expect(await mlpJson(c.home, ['verify'])).toMatchObject({ corrupt: [], missing: [] })
    // A served every block twice and B once, encrypting what it read in
    // place (net/donated-bytes.ts): what they hold is untouched
    expect(await mlpJson(a.home, ['verify'])).toMatchObject({ corrupt: [], missing: [] })
    expect(await mlpJson(b.home, ['verify'])).toMatchObject({ corrupt: [], missing: [] })

    // traffic shows in mlp peers
    const peersOfC = await mlpJson<Array<{ peerId: string, bytesReceived: number }>>(c.home, ['peers'])
    expect(peersOfC.find((p) => p.peerId === a.peerId)?.bytesReceived).toBeGreaterThan(0)
    expect(peersOfC.find((p) => p.peerId === b.peerId)?.bytesReceived).toBeGreaterThan(0)

    // a repeated fetch asks nobody for anything
    const [again] = await mlpJson<Fetched[]>(c.home, ['fetch', shared.cid])
    expect(again.blocks).toBe(0)
    expect(again.alreadyHad).toBe(fc.blocks)
  })

  it('pull checks out what pointer files reference; push --to leaves a copy on a teammate', async () => {
    const [a, b, c] = [await pool.start(), await pool.start(), await pool.start()]
    await connect(b, a)
    await connect(a, c)
    const proj = await newProject(a.home)
    writeRandom(join(proj, 'model.bin'), 3_000_000)
    const sum = sha256(join(proj, 'model.bin'))
    await mlpJson(a.home, ['add', 'model.bin'], { cwd: proj })
    const pushed = await mlpJson(a.home, ['push', '--to', c.peerId], { cwd: proj })
    expect(pushed).toMatchObject({ to: c.peerId, replicated: true })
    // C holds the copy on its own
    expect((await mlpJson(c.home, ['verify'])).checkedBytes).toBeGreaterThanOrEqual(3_000_000)

    // bob clones the repo (pointer files only) and pulls
    const clone = join(await tempDir(), 'clone')
    execFileSync('git', ['clone', '-q', proj, clone])
    execFileSync('cp', [join(proj, 'model.bin.mlp'), join(proj, '.gitignore'), clone])
    execFileSync('cp', ['-r', join(proj, '.mlp'), clone])
    const pulled = await mlpJson(b.home, ['pull'], { cwd: clone })
    expect(pulled.checkout[0]).toMatchObject({ path: 'model.bin', written: 1 })
    expect(sha256(join(clone, 'model.bin'))).toBe(sum)
    const st = await mlpJson(b.home, ['status'], { cwd: clone })
    expect(st.outs[0].state).toBe('unchanged')
  })
})

describe('on a terminal', () => {
  it('fetch draws a progress line with percent, size, rate, ETA and peers', async () => {
    const [a, b] = [await pool.start(), await pool.start()]
    await connect(b, a)
    const proj = await newProject(a.home)
    writeRandom(join(proj, 'data.bin'), 150_000_000)
    const [shared] = await mlpJson<Array<{ cid: string }>>(a.home, ['share', 'data.bin'], { cwd: proj })
    // script(1) gives the CLI a pseudo-terminal, as a user's shell would
    const out = execFileSync('script', ['-q', '-e', '-c', `${process.execPath} ${MLP_BIN} fetch ${shared.cid}`, '/dev/null'], {
      env: { ...process.env, NODE_ENV: undefined, MLP_HOME: b.home, NO_COLOR: '1' },
      timeout: 120_000
    }).toString()
    const lines = out.split(/[\r\n]+/).map((l) => l.trim()).filter((l) => l.startsWith('fetching '))
    expect(lines.length, out).toBeGreaterThan(0)
    expect(lines.some((l) => /^fetching bafy\S+\.\.\. \d+% [\d.]+ [kMG]?B\/150\.\d MB {2}[\d.]+ [kMG]?B\/s {2}ETA \S+ {2}1 peer$/.test(l)), lines.join('\n')).toBe(true)
    expect(out).toContain(`${shared.cid}: `)
  })
})

describe('faults during a fetch', () => {
  it('a peer killed mid-transfer: the fetch completes from the others', async () => {
    const [a, b, c] = [await pool.start(), await pool.start(), await pool.start()]
    await connect(b, a)
    const proj = await newProject(a.home)
    writeRandom(join(proj, 'big.bin'), 150_000_000)
    const sum = sha256(join(proj, 'big.bin'))
    const [shared] = await mlpJson(a.home, ['share', 'big.bin'], { cwd: proj })
    await mlpJson(b.home, ['fetch', shared.cid])
    await connect(c, a)
    await connect(c, b)
    const fetching = mlp(c.home, ['fetch', shared.cid, '-o', join(await tempDir(), 'out.bin'), '--json'])
    await waitFor('the fetch to be under way', () => packBytes(c.home) > 10_000_000, 30_000)
    process.kill(a.pid, 'SIGKILL')
    const r = await fetching
    expect(r.stderr).toBe('')
    const [done] = JSON.parse(r.stdout) as Fetched[]
    expect(done.fromPeers[b.peerId].blocks).toBeGreaterThan(0)
    expect(sha256(done.out as string)).toBe(sum)
  })

  it('a fetch interrupted by stopping the daemon resumes without refetching', async () => {
    const [a, c] = [await pool.start(), await pool.start()]
    await connect(c, a)
    const proj = await newProject(a.home)
    writeRandom(join(proj, 'big.bin'), 250_000_000)
    const [shared] = await mlpJson(a.home, ['share', 'big.bin'], { cwd: proj })
    const fetching = mlp(c.home, ['fetch', shared.cid])
    // a good part in, then stop the fetcher (gracefully: it keeps what it has)
    await waitFor('the fetch to be under way', () => packBytes(c.home) > 70_000_000, 30_000)
    // the seed is frozen while the fetcher stops: a fetch fast enough to
    // finish the file between the check above and the stop would make this a race
    process.kill(a.pid, 'SIGSTOP')
    try {
      await mlpJson(c.home, ['daemon', 'stop'])
      expect((await fetching).code).not.toBe(0)
    } finally {
      process.kill(a.pid, 'SIGCONT')
    }
    const c2 = await pool.start(c.home)
    await waitFor('restarted daemon to reconnect', async () => (await mlpJson<Array<{ state: string }>>(c2.home, ['peers'])).some((p) => p.state === 'connected'))
    const [resumed] = await mlpJson<Fetched[]>(c2.home, ['fetch', shared.cid])
    expect(resumed.alreadyHad).toBeGreaterThan(500)
    expect(resumed.bytes).toBeLessThan(200_000_000)
    expect(await mlpJson(c2.home, ['verify'])).toMatchObject({ corrupt: [], missing: [] })
  }, 120_000)

  it('a lying peer is dropped and the fetch completes from an honest one', async () => {
    const liar = await startLiar(pool.swarmKeyBytes())
    try {
      const [a, c] = [await pool.start(), await pool.start()]
      const proj = await newProject(a.home)
      writeRandom(join(proj, 'data.bin'), 30_000_000)
      const sum = sha256(join(proj, 'data.bin'))
      const [shared] = await mlpJson(a.home, ['share', 'data.bin'], { cwd: proj })
      await mlpJson(c.home, ['peers', 'add', liar.node.getMultiaddrs()[0].toString()])
      await connect(c, a)
      const out = join(await tempDir(), 'out.bin')
      const [done] = await mlpJson<Fetched[]>(c.home, ['fetch', shared.cid, '-o', out])
      expect(sha256(out)).toBe(sum)
      expect(liar.sent()).toBeGreaterThan(0)
      expect(done.fromPeers[liar.node.peerId.toString()]?.blocks ?? 0).toBe(0)
      expect(await mlpJson(c.home, ['verify'])).toMatchObject({ corrupt: [], missing: [] })
    } finally {
      await liar.node.stop()
    }
  })

  it('an unknown cid fails with a clear error in bounded time', async () => {
    const [a, c] = [await pool.start(), await pool.start()]
    await connect(c, a)
    const unknown = 'bafkr4ihkr4ld3m4gqkjf4reryxsy2s5tkbxprqkow6fin2iiyvreuzzab4'
    const r = await mlp(c.home, ['fetch', unknown])
    expect(r.code).not.toBe(0)
    expect(r.stderr.trim().split('\n')).toHaveLength(1)
    expect(r.stderr).toContain(`no peer has ${unknown}`)
    expect(alive(c.pid)).toBe(true)
  })
})

describe('private network', () => {
  it('a daemon with a different swarm key cannot connect; one with the right key can', async () => {
    const key = (): string => `/key/swarm/psk/1.0.0/\n/base16/\n${execFileSync('openssl', ['rand', '-hex', '32']).toString().trim()}\n`
    const teamKey = key()
    const homes = [await pool.home(), await pool.home(), await pool.home(), await pool.home()]
    writeFileSync(join(homes[0], 'swarm.key'), teamKey)
    writeFileSync(join(homes[1], 'swarm.key'), teamKey)
    writeFileSync(join(homes[2], 'swarm.key'), key())
    const [team, member, outsider, open] = [await pool.start(homes[0]), await pool.start(homes[1]), await pool.start(homes[2]), await pool.start(homes[3], undefined, undefined, { team: false })]
    expect((await mlpJson(member.home, ['peers', 'add', team.addrs[0]])).state).toBe('connected')
    for (const d of [outsider, open]) {
      const r = await mlp(d.home, ['peers', 'add', team.addrs[0]])
      expect(r.code).not.toBe(0)
      expect(r.stderr).toContain('swarm key')
    }
    const peers = await mlpJson<Array<{ peerId: string, state: string }>>(team.home, ['peers'])
    expect(peers.filter((p) => p.state === 'connected').map((p) => p.peerId)).toEqual([member.peerId])
  })
})
