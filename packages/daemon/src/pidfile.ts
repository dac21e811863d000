import { readFileSync } from 'node:fs'
import { open, readFile, unlink } from 'node:fs/promises'
import { AlreadyRunningError } from '@mlp/proto'

/** The pid recorded in the pid file, or undefined when absent or unreadable. */
export async function readPid (file: string): Promise<number | undefined> {
  try {
    const pid = Number.parseInt((await readFile(file, 'utf8')).trim(), 10)
    return Number.isSafeInteger(pid) && pid > 0 ? pid : undefined
  } catch {
    return undefined
  }
}

/**
 * True when `pid` is a live mlp daemon. A pid left by a `kill -9` may since
 * belong to an unrelated process, so the command line is checked too.
 */
export function isDaemonProcess (pid: number): boolean {
  try {
    process.kill(pid, 0)
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'
  }
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('daemon')
  } catch {
    return true
  }
}

/**
 * Claims the home for this process: creates the pid file exclusively, or
 * replaces it when the recorded process is gone (a crash or `kill -9`).
 * Throws {@link AlreadyRunningError} when a live daemon holds it.
 */
export async function acquirePidFile (file: string, socket: string): Promise<void> {
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const handle = await open(file, 'wx', 0o644)
      await handle.writeFile(`${process.pid}\n`)
      await handle.close()
      return
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err
    }
    const pid = await readPid(file)
    if (pid != null && pid !== process.pid && isDaemonProcess(pid)) {
      throw new AlreadyRunningError(`the mlp daemon is already running (pid ${pid}, socket ${socket})`)
    }
    // stale: the process that wrote it is gone
    await unlink(file).catch(() => {})
  }
  throw new AlreadyRunningError(`could not claim ${file}: another daemon is starting for the same MLP_HOME`)
}

/** Removes the pid file if it still names this process. */
export async function releasePidFile (file: string): Promise<void> {
  if ((await readPid(file)) === process.pid) await unlink(file).catch(() => {})
}
