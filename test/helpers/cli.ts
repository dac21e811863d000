import { execFile } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

/** The real CLI entry point, run as users run it. */
export const MLP_BIN = fileURLToPath(new URL('../../packages/cli/bin/run.js', import.meta.url))

/** What one CLI run produced. */
export interface RunResult {
  code: number
  stdout: string
  stderr: string
}

/** Runs `mlp <args>` with `MLP_HOME=home`, never through a shell. */
export async function mlp (home: string, args: string[], options: { cwd?: string, env?: NodeJS.ProcessEnv, timeoutMs?: number } = {}): Promise<RunResult> {
  return await new Promise((resolve) => {
    execFile(process.execPath, [MLP_BIN, ...args], {
      cwd: options.cwd,
      // vitest sets NODE_ENV=test, which changes oclif's behaviour: users do not have it
      env: { ...process.env, NODE_ENV: undefined, ...options.env, MLP_HOME: home, NO_COLOR: '1' },
      timeout: options.timeoutMs ?? 45_000,
      maxBuffer: 64 * 1024 * 1024
    }, (err, stdout, stderr) => {
      const code = err == null ? 0 : typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : 1
      resolve({ code, stdout, stderr })
    })
  })
}

/** Runs `mlp <args> --json`, expects success, and parses the one JSON document. */
export async function mlpJson<T = any> (home: string, args: string[], options: { cwd?: string, env?: NodeJS.ProcessEnv } = {}): Promise<T> {
  const r = await mlp(home, [...args, '--json'], options)
  if (r.code !== 0) throw new Error(`mlp ${args.join(' ')} failed (${r.code}): ${r.stderr}`)
  return JSON.parse(r.stdout) as T
}

const created = new Set<string>()

/** A fresh temporary directory, removed after the test file by {@link removeTempDirs}. */
export async function tempDir (prefix = 'mlp-test-'): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix))
  created.add(dir)
  return dir
}

/** Removes every directory {@link tempDir} made in this test file (run by test/setup.ts). */
export async function removeTempDirs (): Promise<void> {
  for (const dir of created) await removeDir(dir)
  created.clear()
}

/** Removes a directory tree, ignoring a missing one. */
export async function removeDir (dir: string): Promise<void> {
  await rm(dir, { recursive: true, force: true })
}

/** Polls `check` every 100 ms until it returns true, failing after `timeoutMs`. */
export async function waitFor (what: string, check: () => Promise<boolean> | boolean, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline) {
    if (await check()) return
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
}

/** True while `pid` runs (a zombie waiting to be reaped counts as gone). */
export function alive (pid: number): boolean {
  try {
    process.kill(pid, 0)
  } catch {
    return false
  }
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'))
  } catch {
    return false
  }
}
