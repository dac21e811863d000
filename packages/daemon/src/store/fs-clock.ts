import { statSync, writeFileSync } from 'node:fs'

/** The longest {@link fsClockAfter} waits for the file-system clock to tick. */
const MAX_TICK_WAIT_MS = 1_000

/**
 * The file-system clock: the mtime, in nanoseconds, that a file written now
 * gets. The kernel stamps files from a coarse clock (a tick of 1–10 ms, a
 * whole second or two on some file systems), so this, not `Date.now()`, is
 * what a file's mtime must be compared with to know whether it was written
 * before or after a moment: git compares with its index file's mtime for the
 * same reason. `marker` is a file mlp owns (in the store) that is rewritten.
 */
export function fsClockNs (marker: string): bigint {
  writeFileSync(marker, '')
  return statSync(marker, { bigint: true }).mtimeNs
}

/**
 * The file-system clock once it has moved past `mtimeNs` (the newest mtime of
 * files just written): a file modified from then on gets a later mtime, even
 * one the same size modified within the same tick as the write. Waits a tick
 * at most in practice; after {@link MAX_TICK_WAIT_MS} it returns the clock
 * as it is, which leaves those files racy (rehashed once), never trusted wrongly.
 */
export async function fsClockAfter (marker: string, mtimeNs: bigint): Promise<bigint> {
  const deadline = Date.now() + MAX_TICK_WAIT_MS
  for (;;) {
    const now = fsClockNs(marker)
    if (now > mtimeNs || Date.now() >= deadline) return now
    await new Promise((resolve) => setTimeout(resolve, 1))
  }
}
