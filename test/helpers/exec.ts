import { readdirSync, readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { mlpJson } from './cli.js'
import type { DaemonPool, TestDaemon } from './daemons.js'

/** A fake `nvidia-smi` printing a real H200's output: CI has no GPU. */
export const FAKE_NVIDIA_SMI = fileURLToPath(new URL('../fixtures/nvidia-smi', import.meta.url))
/** The environment of a daemon that finds {@link FAKE_NVIDIA_SMI} on its PATH. */
export const GPU_ENV = { PATH: `${FAKE_NVIDIA_SMI}:${process.env.PATH ?? ''}` }

/**
 * An argument for `sleep` of about `seconds` that no other process has (a
 * clock-derived fraction): the token {@link sleepers} looks for.
 */
export function sleepToken (seconds: number): string {
  return `${seconds}.${String(process.hrtime.bigint() % 1_000_000n).padStart(6, '0')}`
}

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
