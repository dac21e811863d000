import { readdir, rm } from 'node:fs/promises'
import { join } from 'node:path'
import type { PrivateKey } from '@libp2p/interface'
import type { ExpRecord } from '@mlp/proto'
import type { Logger } from '../logger.js'
import { signRecord } from './record.js'
import type { ExpRecords } from './records.js'
import { laterThan } from './run.js'

/** The reason a run the daemon's stop cut short is given. */
export const INTERRUPTED_REASON = 'interrupted: the daemon stopped during the run'

/** Components of {@link recoverInterrupted}. */
export interface RecoverComponents {
  records: ExpRecords
  privateKey: PrivateKey
  /** This daemon's peer id: only its own records are re-signed. */
  self: string
  /** Where queued experiments run (`MLP_HOME/exp-runs`): what a stopped run left there is removed. */
  workDir: string
  log: Logger
}

/**
 * Run once at daemon start, before any record is sent: a record of this
 * daemon's still `running` belongs to a run the daemon's stop cut short
 * (killed, crashed, the machine lost power), since runs live in the daemon.
 * Each is re-signed as `failed` with {@link INTERRUPTED_REASON}; the next
 * exchange with each teammate carries the new version, which replaces the
 * old by its later `at`. `queued` records stay queued, as a DVC queue keeps
 * its tasks across restarts: `mlp exp run --run-all` runs them. Worktrees
 * the stopped runs left under `workDir` are removed. Returns the names failed.
 */
export async function recoverInterrupted (c: RecoverComponents): Promise<string[]> {
  const stale = c.records.all().filter((r) => r.author === c.self && r.state === 'running')
  const failed: ExpRecord[] = []
  for (const r of stale) {
    const { sig: _sig, ...rest } = r
    failed.push(await signRecord({ ...rest, state: 'failed', reason: INTERRUPTED_REASON, durationMs: Math.max(0, Date.now() - Date.parse(r.startedAt)), at: laterThan(r.at) }, c.privateKey))
  }
  // a re-signed record replaces one of the same size or so: within the caps that held the old one
  const outcomes = await c.records.putMany(failed)
  outcomes.forEach((o, i) => { if (o !== 'stored') c.log.warn('could not mark an interrupted experiment failed', { project: failed[i].project, name: failed[i].name, outcome: o }) })
  if (failed.length > 0) c.log.info('experiments interrupted by the daemon stopping marked failed', { names: failed.map((r) => `${r.project.slice(0, 8)}/${r.name}`) })
  await removeLeftovers(c.workDir, c.log)
  return failed.filter((_, i) => outcomes[i] === 'stored').map((r) => r.name)
}

/** Removes the worktrees of runs that were under way when the daemon stopped (none is under way at start). */
async function removeLeftovers (workDir: string, log: Logger): Promise<void> {
  let entries: string[]
  try {
    entries = await readdir(workDir)
  } catch {
    // no queued experiment ever ran here
    return
  }
  for (const e of entries) {
    await rm(join(workDir, e), { recursive: true, force: true }).catch((err: Error) => { log.warn('could not remove a stopped experiment\'s worktree', { dir: join(workDir, e), error: err.message }) })
  }
}
