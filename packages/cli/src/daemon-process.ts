import { spawn } from 'node:child_process'
import { closeSync, mkdirSync, openSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { DAEMON_NODE_FLAGS, daemonArgs, homePaths, isDaemonProcess, type ConfigOverrides, type StartupMessage } from '@mlp/daemon'
import { AlreadyRunningError, DaemonStartError, errorFromJSON, type IdResult } from '@mlp/proto'
import { ApiClient } from './client.js'

/** How long `daemon start` waits for the daemon's API before giving up. */
export const START_TIMEOUT_MS = 30_000
/** How long `daemon stop` waits for the process to exit. */
export const STOP_TIMEOUT_MS = 20_000

/** A daemon started in the background. */
export interface StartedDaemon extends IdResult {
  pid: number
  home: string
  logFile: string
}

/**
 * Starts a detached daemon for `home` and waits until it reports that its API
 * answers, or rethrows its startup error (bad config, port in use, already
 * running) as the same class.
 */
export async function spawnDaemon (home: string, overrides: ConfigOverrides): Promise<StartedDaemon> {
  const paths = homePaths(home)
  const client = new ApiClient(home)
  if (await client.isRunning()) {
    const status = await client.call('daemon/status', {})
    throw new AlreadyRunningError(`the mlp daemon is already running (pid ${status.pid}, socket ${paths.socket}); stop it with \`mlp daemon stop\``)
  }
  mkdirSync(home, { recursive: true, mode: 0o700 })
  // a crash before the logger is up still leaves its trace in daemon.log
  const stderr = openSync(paths.logFile, 'a')
  const bin = fileURLToPath(import.meta.resolve('@mlp/daemon/bin'))
  const child = spawn(process.execPath, [...DAEMON_NODE_FLAGS, bin, ...daemonArgs(overrides)], {
    detached: true,
    stdio: ['ignore', 'ignore', stderr, 'ipc'],
    // glibc gives each thread (thread pool, chunking worker) its own malloc
    // arena, and memory freed in one is rarely handed back: capping them at 2
    // took a 4 GiB add's peak RSS from about 310 to 260 MB here
    env: { MALLOC_ARENA_MAX: '2', ...process.env, MLP_HOME: home }
  })
  closeSync(stderr)
  try {
    const msg = await new Promise<StartupMessage>((resolve, reject) => {
      const timer = setTimeout(() => { reject(new DaemonStartError(`the daemon did not answer within ${START_TIMEOUT_MS / 1000} s; see ${paths.logFile}`)) }, START_TIMEOUT_MS)
      child.once('message', (m) => { clearTimeout(timer); resolve(m as StartupMessage) })
      child.once('exit', (code) => { clearTimeout(timer); reject(new DaemonStartError(`the daemon exited during start (code ${code ?? 'signal'}); see ${paths.logFile}`)) })
      child.once('error', (err) => { clearTimeout(timer); reject(new DaemonStartError(`could not start the daemon: ${err.message}`, { cause: err })) })
    })
    if (msg.type === 'error') throw errorFromJSON(msg.error)
    return { ...msg.id, pid: msg.pid, home, logFile: paths.logFile }
  } catch (err) {
    if (child.exitCode == null && child.pid != null && !(err instanceof AlreadyRunningError)) child.kill('SIGKILL')
    throw err
  } finally {
    if (child.connected) child.disconnect()
    child.unref()
  }
}

/** Waits until `pid` is no longer a running daemon; false on timeout. */
export async function waitForExit (pid: number, timeoutMs = STOP_TIMEOUT_MS): Promise<boolean> {
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline) {
    if (!isDaemonProcess(pid)) return true
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
  return false
}
