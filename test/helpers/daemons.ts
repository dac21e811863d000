import { mlp, mlpJson, removeDir, tempDir } from './cli.js'

/** A daemon a test started through the real CLI. */
export interface TestDaemon {
  home: string
  pid: number
  peerId: string
  addrs: string[]
}

/**
 * Starts and tracks daemons for one test file; {@link DaemonPool.cleanup}
 * stops them (SIGKILL by pid if a graceful stop fails) and removes their homes.
 */
export class DaemonPool {
  private readonly pids = new Set<number>()
  private readonly homes = new Set<string>()

  /** A new, empty MLP_HOME. */
  async home (): Promise<string> {
    const home = await tempDir('mlp-home-')
    this.homes.add(home)
    return home
  }

  /** `mlp daemon start` on 127.0.0.1, port 0 unless given, without mDNS. */
  async start (home?: string, args: string[] = ['--listen', '/ip4/127.0.0.1/tcp/0', '--no-mdns'], env?: NodeJS.ProcessEnv): Promise<TestDaemon> {
    const h = home ?? await this.home()
    const started = await mlpJson<{ pid: number, peerId: string, addrs: string[] }>(h, ['daemon', 'start', ...args], { env })
    this.pids.add(started.pid)
    return { home: h, pid: started.pid, peerId: started.peerId, addrs: started.addrs }
  }

  /** Remembers a pid so cleanup kills it. */
  track (pid: number): void {
    this.pids.add(pid)
  }

  async cleanup (): Promise<void> {
    for (const home of this.homes) await mlp(home, ['daemon', 'stop'], { timeoutMs: 25_000 })
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
