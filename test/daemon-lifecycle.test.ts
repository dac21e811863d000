import { readFile, stat, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { alive, mlp, mlpJson, waitFor } from './helpers/cli.js'
import { DaemonPool } from './helpers/daemons.js'

const pool = new DaemonPool()
afterAll(async () => { await pool.cleanup() })

describe('daemon lifecycle', () => {
  it('tunes its C allocator and young generation at start (glibc, addon built), and not the allocator with MLP_TUNE_MALLOC=0', async () => {
    const tuned = await pool.start()
    expect(await mlpJson(tuned.home, ['daemon', 'status'])).toMatchObject({ pid: tuned.pid, mallocTuned: true })
    // and its young generation is capped (node-flags.ts: 20-30 MB less resident memory)
    expect(await mlpJson(tuned.home, ['daemon', 'status'])).toMatchObject({ nodeFlags: ['--max-semi-space-size=4'] })
    const plain = await pool.start(undefined, undefined, { ...process.env, MLP_TUNE_MALLOC: '0' })
    expect(await mlpJson(plain.home, ['daemon', 'status'])).toMatchObject({ pid: plain.pid, mallocTuned: false })
  })

  it('starts, reports status, refuses a second start, stops gracefully', async () => {
    const d = await pool.start()
    expect(d.peerId).toMatch(/^12D3KooW/)
    expect(d.addrs[0]).toMatch(/^\/ip4\/127\.0\.0\.1\/tcp\/\d+\/p2p\/12D3KooW/)

    const status = await mlpJson(d.home, ['daemon', 'status'])
    expect(status).toMatchObject({ pid: d.pid, peerId: d.peerId, home: d.home, connectedPeers: 0 })
    expect(status.uptimeMs).toBeGreaterThanOrEqual(0)

    const again = await mlp(d.home, ['daemon', 'start', '--listen', '/ip4/127.0.0.1/tcp/0', '--no-mdns'])
    expect(again.code).not.toBe(0)
    expect(again.stderr.trim().split('\n')).toHaveLength(1)
    expect(again.stderr).toContain(`already running (pid ${d.pid}, socket ${join(d.home, 'api.sock')})`)

    const id = await mlpJson(d.home, ['id'])
    expect(id).toEqual({ peerId: d.peerId, addrs: d.addrs })

    const sock = await stat(join(d.home, 'api.sock'))
    expect(sock.mode & 0o777).toBe(0o600)
    expect((await stat(join(d.home, 'identity.key'))).mode & 0o777).toBe(0o600)
    expect((await stat(d.home)).mode & 0o022).toBe(0)

    const stopped = await mlpJson(d.home, ['daemon', 'stop'])
    expect(stopped).toEqual({ stopped: true, pid: d.pid })
    expect(alive(d.pid)).toBe(false)
    await expect(stat(join(d.home, 'api.sock'))).rejects.toThrow()
    await expect(stat(join(d.home, 'daemon.pid'))).rejects.toThrow()

    const log = (await readFile(join(d.home, 'daemon.log'), 'utf8')).trim().split('\n').map((l) => JSON.parse(l))
    expect(log.map((l) => l.msg)).toEqual(expect.arrayContaining(['daemon started', 'daemon stopping', 'daemon stopped']))
    for (const line of log) expect(['debug', 'info', 'warn', 'error']).toContain(line.level)
  })

  it('restarts cleanly after kill -9 and keeps its peer id', async () => {
    const d = await pool.start()
    process.kill(d.pid, 'SIGKILL')
    await waitFor('killed daemon to exit', () => !alive(d.pid))
    // the kill left both the socket and the pid file behind
    await stat(join(d.home, 'api.sock'))
    expect((await readFile(join(d.home, 'daemon.pid'), 'utf8')).trim()).toBe(String(d.pid))

    const status = await mlp(d.home, ['daemon', 'status'])
    expect(status.code).not.toBe(0)
    expect(status.stderr).toContain('mlp daemon start')

    const again = await pool.start(d.home)
    expect(again.pid).not.toBe(d.pid)
    expect(again.peerId).toBe(d.peerId)
    expect((await mlpJson(d.home, ['daemon', 'status'])).pid).toBe(again.pid)
  })

  it('a stale pid file naming an unrelated live process does not block start', async () => {
    const home = await pool.home()
    // pid 1 is alive but is not an mlp daemon
    await writeFile(join(home, 'daemon.pid'), '1\n')
    const d = await pool.start(home)
    expect(d.pid).not.toBe(1)
  })

  it('every command that needs a daemon says so, naming MLP_HOME', async () => {
    const home = await pool.home()
    for (const args of [['id'], ['peers'], ['peers', 'add', '/ip4/127.0.0.1/tcp/1'], ['daemon', 'status'], ['daemon', 'stop']]) {
      const r = await mlp(home, args)
      expect(r.code, args.join(' ')).not.toBe(0)
      expect(r.stdout).toBe('')
      expect(r.stderr.trim().split('\n'), args.join(' ')).toHaveLength(1)
      expect(r.stderr).toContain(`no mlp daemon is running for MLP_HOME=${home}`)
      expect(r.stderr).toContain('mlp daemon start')
    }
    const json = await mlp(home, ['id', '--json'])
    expect(json.code).not.toBe(0)
    expect(JSON.parse(json.stdout)).toEqual({ error: { name: 'DaemonNotRunningError', message: expect.stringContaining(home) } })
  })

  it('runs in the foreground until SIGTERM', async () => {
    const { spawn } = await import('node:child_process')
    const { MLP_BIN } = await import('./helpers/cli.js')
    const home = await pool.home()
    const child = spawn(process.execPath, [MLP_BIN, 'daemon', 'start', '--foreground', '--listen', '/ip4/127.0.0.1/tcp/0', '--no-mdns'], {
      env: { ...process.env, MLP_HOME: home },
      stdio: ['ignore', 'ignore', 'pipe']
    })
    pool.track(child.pid as number)
    let stderr = ''
    child.stderr.on('data', (d: Buffer) => { stderr += d.toString() })
    await waitFor('foreground daemon to answer', async () => (await mlp(home, ['id'])).code === 0)
    const exited = new Promise<number | null>((resolve) => child.once('exit', resolve))
    child.kill('SIGTERM')
    expect(await exited).toBe(0)
    // foreground mode mirrors the structured log to stderr
    expect(stderr).toContain('"msg":"daemon stopped"')
  })
})
