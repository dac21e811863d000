import { spawn } from 'node:child_process'
import { closeSync, existsSync, openSync, readdirSync, readFileSync, rmSync, writeFileSync, writeSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { MLP_BIN, mlp, mlpJson, tempDir } from './helpers/cli.js'
import { DaemonPool, type TestDaemon } from './helpers/daemons.js'
import { newProject, sha256, writeRandom } from './helpers/project.js'

/**
 * "Reads never lie": bytes flipped inside a data block of a pack file on
 * disk. Reads fail naming the block and never pass on wrong bytes; the block
 * is quarantined, so a peer asking for it gets MISSING (not a lie) and
 * `mlp verify --repair` heals it from a healthy peer.
 */

const pool = new DaemonPool()
afterAll(async () => { await pool.cleanup() })

const FILES = ['f1.bin', 'f2.bin', 'f3.bin', 'f4.bin']
const SIZE = 2_000_000
/** A block is named in errors as `block <cid> is corrupt`. */
const NAMED = /block (bafk[a-z0-9]+) is corrupt/

interface Added { path: string, cid: string, size: number }
interface Fetched { root: string, blocks: number, fromPeers: Record<string, { blocks: number, bytes: number }> }

/** `mlp cat`, its stdout kept as raw bytes. */
async function catBytes (home: string, cid: string): Promise<{ code: number | null, stdout: Buffer, stderr: string }> {
  const child = spawn(process.execPath, [MLP_BIN, 'cat', cid], { env: { ...process.env, NODE_ENV: undefined, MLP_HOME: home }, stdio: ['ignore', 'pipe', 'pipe'] })
  const out: Buffer[] = []
  let stderr = ''
  child.stdout.on('data', (b: Buffer) => out.push(b))
  child.stderr.on('data', (b: Buffer) => { stderr += b.toString() })
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve))
  return { code, stdout: Buffer.concat(out), stderr }
}

/**
 * Flips 4 bytes inside the data of the block holding `data[at..]`: found by
 * its content in the pack, so never a record header or id.
 */
function corruptInPack (home: string, data: Buffer, at: number): void {
  const dir = join(home, 'store', 'packs')
  for (let tryAt = at; tryAt < data.length - 4096; tryAt += 50_000) {
    const needle = data.subarray(tryAt, tryAt + 256)
    for (const name of readdirSync(dir)) {
      const pos = readFileSync(join(dir, name)).indexOf(needle)
      if (pos < 0) continue
      const fd = openSync(join(dir, name), 'r+')
      try {
        writeSync(fd, Buffer.from(data.subarray(tryAt + 100, tryAt + 104).map((b) => b ^ 0xa5)), 0, 4, pos + 100)
      } finally {
        closeSync(fd)
      }
      return
    }
  }
  throw new Error('could not find the data in any pack')
}

function tmpLeftovers (dir: string): string[] {
  return readdirSync(dir).filter((n) => n.includes('mlp-'))
}

function daemonLog (home: string): string {
  return readFileSync(join(home, 'daemon.log'), 'utf8')
}

describe('a block corrupted on disk', () => {
  let a: TestDaemon
  let b: TestDaemon
  let proj: string
  const data = new Map<string, Buffer>()
  const cids = new Map<string, string>()
  /** The block each read named as corrupt, by file. */
  const named = new Map<string, string>()

  beforeAll(async () => {
    [a, b] = await Promise.all([pool.start(), pool.start()])
    proj = await newProject(a.home)
    for (const f of FILES) data.set(f, writeRandom(join(proj, f), SIZE))
    for (const added of await mlpJson<Added[]>(a.home, ['add', ...FILES], { cwd: proj })) cids.set(added.path, added.cid)
    // B holds healthy copies of the same bytes (same ids), added on its own: it is not connected to A
    const projB = await newProject(b.home)
    for (const f of FILES) writeFileSync(join(projB, f), data.get(f) as Buffer)
    const addedB = await mlpJson<Added[]>(b.home, ['add', ...FILES], { cwd: projB })
    expect(addedB.map((x) => x.cid)).toEqual(FILES.map((f) => cids.get(f)))
  })

  it('positive control: on a healthy store cat, fetch -o and checkout work', async () => {
    const cat = await catBytes(a.home, cids.get('f1.bin') as string)
    expect(cat.code).toBe(0)
    expect(cat.stdout.equals(data.get('f1.bin') as Buffer)).toBe(true)
    const out = join(await tempDir(), 'copy.bin')
    const [fetched] = await mlpJson<Fetched[]>(a.home, ['fetch', cids.get('f2.bin') as string, '-o', out])
    expect(fetched.blocks).toBe(0)
    expect(sha256(out)).toBe(sha256(join(proj, 'f2.bin')))
    rmSync(join(proj, 'f3.bin'))
    await mlpJson(a.home, ['checkout', 'f3.bin'], { cwd: proj })
    expect(readFileSync(join(proj, 'f3.bin')).equals(data.get('f3.bin') as Buffer)).toBe(true)
    expect(await mlpJson(a.home, ['verify'])).toMatchObject({ corrupt: [], missing: [] })
    for (const f of FILES) corruptInPack(a.home, data.get(f) as Buffer, 1_000_000)
  })

  it('cat fails naming the block, and what it printed is a strict prefix of the true bytes', async () => {
    const cat = await catBytes(a.home, cids.get('f1.bin') as string)
    expect(cat.code).not.toBe(0)
    const lines = cat.stderr.trim().split('\n')
    expect(lines).toHaveLength(1)
    expect(lines[0]).toMatch(/^Error: /)
    named.set('f1.bin', (NAMED.exec(lines[0]) as RegExpExecArray)[1])
    const truth = data.get('f1.bin') as Buffer
    expect(cat.stdout.length).toBeLessThan(truth.length)
    expect(cat.stdout.equals(truth.subarray(0, cat.stdout.length))).toBe(true)
    // quarantined: a second read fails the same way, at once
    const again = await catBytes(a.home, cids.get('f1.bin') as string)
    expect(again.code).not.toBe(0)
    expect(again.stderr).toContain(`block ${named.get('f1.bin') as string} is corrupt`)
    expect(again.stdout.equals(truth.subarray(0, again.stdout.length))).toBe(true)
  })

  it('fetch -o and checkout fail naming the block and leave no file behind', async () => {
    const dir = await tempDir()
    const out = join(dir, 'copy.bin')
    const fetch = await mlp(a.home, ['fetch', cids.get('f2.bin') as string, '-o', out])
    expect(fetch.code).not.toBe(0)
    expect(fetch.stderr.trim().split('\n')).toHaveLength(1)
    named.set('f2.bin', (NAMED.exec(fetch.stderr) as RegExpExecArray)[1])
    expect(existsSync(out)).toBe(false)
    expect(tmpLeftovers(dir)).toEqual([])

    rmSync(join(proj, 'f3.bin'))
    const checkout = await mlp(a.home, ['checkout', 'f3.bin'], { cwd: proj })
    expect(checkout.code).not.toBe(0)
    expect(checkout.stderr.trim().split('\n')).toHaveLength(1)
    named.set('f3.bin', (NAMED.exec(checkout.stderr) as RegExpExecArray)[1])
    expect(existsSync(join(proj, 'f3.bin'))).toBe(false)
    expect(tmpLeftovers(proj)).toEqual([])
  })

  it('a peer asking for the block gets MISSING, does not drop the server as a liar, and gets it from a healthy peer', async () => {
    const c = await pool.start()
    await mlpJson(c.home, ['peers', 'add', a.addrs[0]])
    const cid = cids.get('f4.bin') as string
    // A alone: everything but the bad block arrives; that one is answered MISSING, never sent
    const alone = await mlp(c.home, ['fetch', cid])
    expect(alone.code).not.toBe(0)
    expect(alone.stderr).toMatch(/bafk[a-z0-9]+/)
    expect(daemonLog(a.home)).toContain('not serving a corrupt block')
    expect(daemonLog(c.home)).not.toContain('does not match its id')

    // with B too: the fetch completes, A still one of its providers
    await mlpJson(c.home, ['peers', 'add', b.addrs[0]])
    const [fetched] = await mlpJson<Fetched[]>(c.home, ['fetch', cid])
    expect(fetched.blocks).toBe(1)
    expect(fetched.fromPeers[b.peerId]?.blocks).toBe(1)
    expect(daemonLog(c.home)).not.toContain('does not match its id')
    const cat = await catBytes(c.home, cid)
    expect(cat.code).toBe(0)
    expect(cat.stdout.equals(data.get('f4.bin') as Buffer)).toBe(true)
    expect(await mlpJson(c.home, ['verify'])).toMatchObject({ corrupt: [], missing: [] })
    // B goes offline: C (which holds f4 only) is A's one peer for the next test
    await mlpJson(b.home, ['daemon', 'stop'])
  })

  it('verify names every bad block; verify --repair mends what peers hold and names what it could not', async () => {
    const v = await mlp(a.home, ['verify', '--json'])
    expect(v.code).not.toBe(0)
    const report = JSON.parse(v.stdout) as { corrupt: string[], missing: string[] }
    // the three blocks reads named, and the one found while serving C
    expect(report.corrupt).toHaveLength(4)
    expect(report.corrupt).toEqual(expect.arrayContaining([...named.values()]))
    expect(report.missing).toEqual([])
    const f4Block = report.corrupt.find((cid) => ![...named.values()].includes(cid)) as string
    expect(v.stderr).toContain('mlp verify --repair')

    // only C is reachable, and it holds f4 alone
    const partial = await mlp(a.home, ['verify', '--repair'])
    expect(partial.code).not.toBe(0)
    expect(partial.stdout).toContain(`repaired: ${f4Block}`)
    for (const f of ['f1.bin', 'f2.bin', 'f3.bin']) expect(partial.stdout).toContain(`not repaired: ${named.get(f) as string}`)
    expect(partial.stderr.trim().split('\n')).toHaveLength(1)
    expect(partial.stderr).toMatch(/^Error: 3 of 4 corrupt or missing blocks could not be repaired/)
  })

  it('with a healthy peer back, verify --repair heals the rest: verify is clean and every read byte-identical', async () => {
    b = await pool.start(b.home)
    await mlpJson(a.home, ['peers', 'add', b.addrs[0]])
    const healed = await mlpJson<{ repaired: string[], unrepaired: unknown[] }>(a.home, ['verify', '--repair'])
    expect(healed.repaired.sort()).toEqual([named.get('f1.bin'), named.get('f2.bin'), named.get('f3.bin')].sort())
    expect(healed.unrepaired).toEqual([])
    expect(await mlpJson(a.home, ['verify'])).toMatchObject({ corrupt: [], missing: [] })
    for (const f of ['f1.bin', 'f4.bin']) {
      const cat = await catBytes(a.home, cids.get(f) as string)
      expect(cat.code).toBe(0)
      expect(cat.stdout.equals(data.get(f) as Buffer)).toBe(true)
    }
    await mlpJson(a.home, ['checkout', 'f3.bin'], { cwd: proj })
    expect(readFileSync(join(proj, 'f3.bin')).equals(data.get('f3.bin') as Buffer)).toBe(true)
    const out = join(await tempDir(), 'copy.bin')
    await mlpJson(a.home, ['fetch', cids.get('f2.bin') as string, '-o', out])
    expect(readFileSync(out).equals(data.get('f2.bin') as Buffer)).toBe(true)
  })
})
