import { randomBytes } from 'node:crypto'
import { existsSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { mlp, mlpJson, removeDir, tempDir } from './cli.js'

/** A daemon a test started through the real CLI. */
export interface TestDaemon {
  home: string
  pid: number
  peerId: string
  addrs: string[]
}

/** Options of {@link DaemonPool.start}. */
export interface StartOptions {
  /**
   * Give the daemon the pool's swarm key (default true), so every daemon of
   * the pool is every other's teammate, as on a team's LAN. False: no key
   * (an open network, where peers are strangers unless added).
   */
  team?: boolean
}

/**
 * Starts and tracks daemons for one test file; {@link DaemonPool.cleanup}
 * stops them (SIGKILL by pid if a graceful stop fails) and removes their homes.
 * Daemons of one pool share a swarm key unless started with `{ team: false }`.
 */
export class DaemonPool {
  private readonly pids = new Set<number>()
  private readonly homes = new Set<string>()
  /** The pool's swarm key file text; test nodes that must connect to the pool's daemons use it too. */
  readonly swarmKey = `/key/swarm/psk/1.0.0/\n/base16/\n${randomBytes(32).toString('hex')}\n`

  /** A new, empty MLP_HOME. */
  async home (): Promise<string> {
    const home = await tempDir('mlp-home-')
    this.homes.add(home)
    return home
  }

  /** The pool's swarm key as libp2p's pnet takes it (for a test node that must connect). */
  swarmKeyBytes (): Uint8Array {
    return new TextEncoder().encode(this.swarmKey)
  }

  /**
   * `mlp daemon start` on 127.0.0.1, port 0 unless given, without mDNS; with
   * the pool's swarm key unless `options.team` is false or the home already
   * has a `swarm.key` (a restart, or a test's own key).
   */
  async start (home?: string, args: string[] = ['--listen', '/ip4/127.0.0.1/tcp/0', '--no-mdns'], env?: NodeJS.ProcessEnv, options: StartOptions = {}): Promise<TestDaemon> {
    const h = home ?? await this.home()
    const keyFile = join(h, 'swarm.key')
    if (options.team !== false && !existsSync(keyFile)) writeFileSync(keyFile, this.swarmKey, { mode: 0o600 })
    const started = await mlpJson<{ pid: number, peerId: string, addrs: string[] }>(h, ['daemon', 'start', ...args], { env })
    this.pids.add(started.pid)
    return { home: h, pid: started.pid, peerId: started.peerId, addrs: started.addrs }
  }

  /** Remembers a pid so cleanup kills it. */
  track (pid: number): void {
    this.pids.add(pid)
  }

  /**
   * Stops every daemon at once, each stop bounded to 25 s, then SIGKILLs what
   * is left: one after the other, a file's dozen daemons on a loaded machine
   * could take longer than the hook's timeout.
   */
  async cleanup (): Promise<void> {
    await Promise.all([...this.homes].map(async (home) => await mlp(home, ['daemon', 'stop'], { timeoutMs: 25_000 })))
    for (const pid of this.pids) {
      try {
        process.kill(pid, 'SIGKILL')
      } catch {
        // already gone
      }
    }
    for (const home of this.homes) await removeDir(home)
  }
}
