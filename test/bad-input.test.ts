import { createServer } from 'node:net'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { mlp } from './helpers/cli.js'
import { DaemonPool } from './helpers/daemons.js'

const pool = new DaemonPool()
afterAll(async () => { await pool.cleanup() })

const LOCAL = ['--listen', '/ip4/127.0.0.1/tcp/0', '--no-mdns']

async function startFails (home: string, args: string[]): Promise<string> {
  const r = await mlp(home, ['daemon', 'start', ...args])
  expect(r.code).not.toBe(0)
  expect(r.stdout).toBe('')
  const lines = r.stderr.trim().split('\n')
  expect(lines).toHaveLength(1)
  // nothing was left running
  expect((await mlp(home, ['id'])).stderr).toContain('no mlp daemon is running')
  return lines[0]
}

describe('bad config and flags', () => {
  it('an unknown config key is named with its line', async () => {
    const home = await pool.home()
    await writeFile(join(home, 'config.yaml'), 'mdns: false\nlisen:\n  - /ip4/127.0.0.1/tcp/0\n')
    const line = await startFails(home, [])
    expect(line).toContain('config.yaml:2')
    expect(line).toContain("unknown key 'lisen'")
  })

  it('a bad value and broken YAML are named with their line', async () => {
    const home = await pool.home()
    await writeFile(join(home, 'config.yaml'), 'listen:\n  - /ip4/127.0.0.1/tcp/0\nmdns: maybe\n')
    expect(await startFails(home, [])).toMatch(/config\.yaml:3: 'mdns' must be true or false/)
    await writeFile(join(home, 'config.yaml'), 'listen:\n  - /ip4/127.0.0.1/tcp/0\nbootstrap: [/ip4/nope]\n')
    expect(await startFails(home, [])).toMatch(/config\.yaml:3: invalid 'bootstrap' address '\/ip4\/nope'/)
    await writeFile(join(home, 'config.yaml'), 'listen: [\n')
    expect(await startFails(home, [])).toMatch(/config\.yaml(:\d+)?: not valid YAML/)
  })

  it('flags override config', async () => {
    const home = await pool.home()
    // config says a port that is taken; the flag wins
    await writeFile(join(home, 'config.yaml'), 'listen:\n  - /ip4/127.0.0.1/tcp/1\nmdns: true\n')
    const d = await pool.start(home, LOCAL)
    expect(d.addrs[0]).not.toContain('/tcp/1/')
  })

  it('an invalid multiaddr flag and an unknown flag are refused', async () => {
    const home = await pool.home()
    expect(await startFails(home, ['--listen', '/ip4/999.1.1.1/tcp/1'])).toContain("invalid multiaddr '/ip4/999.1.1.1/tcp/1'")
    const unknown = await mlp(home, ['daemon', 'start', '--frobnicate'])
    expect(unknown.code).toBe(2)
    expect(unknown.stderr.trim()).toBe('Error: Nonexistent flag: --frobnicate (see mlp daemon start --help)')
  })

  it('a port in use is reported and nothing keeps running', async () => {
    const server = createServer()
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    const port = (server.address() as { port: number }).port
    try {
      const home = await pool.home()
      const line = await startFails(home, ['--listen', `/ip4/127.0.0.1/tcp/${port}`, '--no-mdns'])
      expect(line).toContain(`/ip4/127.0.0.1/tcp/${port}`)
      expect(line).toContain('address already in use')
    } finally {
      server.close()
    }
  })
})
