import { setFlagsFromString } from 'node:v8'
import { errorToJSON, type ErrorJSON, type IdResult } from '@mlp/proto'
import { tuneAllocator } from './allocator.js'
import { startDaemon, type DaemonInit } from './daemon.js'

/** Message a background daemon sends its parent over IPC once it is up, or failed. */
export type StartupMessage = { type: 'ready', id: IdResult, pid: number } | { type: 'error', error: ErrorJSON }

/**
 * Runs a daemon until SIGTERM, SIGINT or an API `stop`, then shuts it down
 * gracefully. When started by `mlp daemon start` (an IPC channel exists) it
 * reports readiness or its startup error to the parent and then cuts the
 * channel so the parent can exit. Resolves with the process exit code.
 */
export async function runDaemon (init: DaemonInit): Promise<number> {
  // V8 lets the old generation grow up to 4x between full collections when
  // allocation is fast, as it is while a large file streams through: a 4 GiB
  // add peaked at 250-320 MB RSS, almost all of it garbage. Growing by at most
  // 2x kept it at about 220 MB for about 7% of fetch speed (1.5x: 200 MB, but
  // fetches 30% slower). V8 reads this flag at every collection, so setting
  // it here, after start-up, works in the background daemon and in
  // `--foreground` alike.
  setFlagsFromString('--heap-growing-percent=100')
  tuneAllocator()
  const report = (msg: StartupMessage): void => {
    if (process.send == null) return
    process.send(msg)
    process.disconnect()
  }
  let daemon
  try {
    daemon = await startDaemon(init)
  } catch (err) {
    report({ type: 'error', error: errorToJSON(err) })
    throw err
  }
  const onSignal = (signal: NodeJS.Signals): void => {
    daemon.log.info('signal received', { signal })
    void daemon.stop()
  }
  process.on('SIGTERM', onSignal)
  process.on('SIGINT', onSignal)
  report({ type: 'ready', pid: process.pid, id: { peerId: daemon.node.peerId.toString(), addrs: daemon.node.getMultiaddrs().map((a) => a.toString()) } })
  await daemon.stopped
  process.off('SIGTERM', onSignal)
  process.off('SIGINT', onSignal)
  return 0
}
