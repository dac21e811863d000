import { readdirSync, readFileSync } from 'node:fs'
import { mlpJson } from './cli.js'
import type { DaemonPool, TestDaemon } from './daemons.js'

/**
 * A requester and a GPU executor that consent to each other: the executor
 * lets the requester run stages (`--run`), the requester believes the
 * executor's signed results (`--results`).
 */
export async function startTrustedPair (pool: DaemonPool, gpuEnv: NodeJS.ProcessEnv): Promise<{ alice: TestDaemon, gpu: TestDaemon }> {
  const alice = await pool.start()
  const gpu = await pool.start(undefined, undefined, gpuEnv)
  await mlpJson(alice.home, ['peers', 'add', gpu.addrs[0]])
  await mlpJson(gpu.home, ['trust', 'add', alice.peerId, '--run'])
  await mlpJson(alice.home, ['trust', 'add', gpu.peerId, '--results'])
  return { alice, gpu }
}

/**
 * Host pids of `sleep <token>` processes. A peer's job runs in a sandbox with
 * its own PID namespace and /tmp, so the test finds it from outside.
 */
export function sleepers (token: string): number[] {
  const pids: number[] = []
  for (const p of readdirSync('/proc').filter((n) => /^\d+$/.test(n))) {
    try {
      const argv = readFileSync(`/proc/${p}/cmdline`, 'utf8').split('\0')
      if (argv[0].endsWith('sleep') && argv[1] === token) pids.push(Number(p))
    } catch {
      // it ended meanwhile
    }
  }
  return pids
}
