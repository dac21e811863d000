import { spawn } from 'node:child_process'
import { closeSync, mkdirSync, openSync, readSync, rmSync, statSync } from 'node:fs'
import { isAbsolute, join } from 'node:path'
import type { AddedOut, GcResult, VerifyResult } from '@mlp/proto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { alive, MLP_BIN, mlp, mlpJson, waitFor } from './helpers/cli.js'
import { DaemonPool, type TestDaemon } from './helpers/daemons.js'
import { catSha256, newProject, sha256, writeRandom } from './helpers/project.js'

// Pack compaction is gc's one destructive step on disk: it copies a pack's
// live blocks to the current pack, commits, and deletes the old pack. A
// kill -9 at any point of it must leave a store that verifies, with every
// kept file byte-identical. Small packs (MLP_PACK_TARGET_BYTES) make a few MB
// spread over many packs, most of them two thirds garbage, so every gc has
// several packs to rewrite. The kill is timed from the daemon's own log
// ('gc sweeping' says how many packs, then one 'gc compacting pack' line
// each), not from the CLI, whose start jitter is longer than a whole gc: a
// random delay (up to one pack's rewrite time, measured by a first gc) after
// a random pack's line. The test requires that most kills really landed
// mid-compaction.

/** Small packs: a 100 KB file spans one or two, and most packs mix kept and removed files. */
const PACK_TARGET_BYTES = 128 * 1024
const ENV = { MLP_PACK_TARGET_BYTES: String(PACK_TARGET_BYTES) }
const DAEMON_ARGS = ['--listen', '/ip4/127.0.0.1/tcp/0', '--no-mdns']
const RUNS = 20
/** Files per batch; one in {@link KEEP_EVERY} is kept, the others become garbage. */
const BATCH_FILES = 6
/** Two of three files removed: most packs fall below gc's 50% live threshold and are rewritten. */
const KEEP_EVERY = 3
/**
 * Of {@link RUNS} kills, at least this many must land after compaction
 * started and before gc finished (14-16 did in runs here; the bound leaves
 * room for a slower machine without letting a test that never hits
 * compaction pass).
 */
const MIN_MID_COMPACTION = 5

const pool = new DaemonPool()
let home: string
let d: TestDaemon
let proj: string
/** Kept files: workspace path relative to the project → original sha256 and cid. */
const kept = new Map<string, { sha: string, cid: string }>()
/** Cids of files added and then untracked, in batch order. */
const garbage: string[][] = []

beforeAll(async () => {
  home = await pool.home()
  d = await pool.start(home, DAEMON_ARGS, ENV)
  proj = await newProject(home)
  mkdirSync(join(proj, 'data'))
})
afterAll(async () => { await pool.cleanup() })

/**
 * Adds {@link BATCH_FILES} files of 60 to 140 KB in one `mlp add` (so their
 * blocks interleave in the same packs), then untracks all but every
 * {@link KEEP_EVERY}th: pointer and file deleted, its blocks now garbage.
 */
async function addBatch (batch: number): Promise<void> {
  const paths: string[] = []
  for (let i = 0; i < BATCH_FILES; i++) {
    const rel = join('data', `b${batch}-${i}.bin`)
    writeRandom(join(proj, rel), 60_000 + Math.floor(Math.random() * 80_000))
    paths.push(rel)
  }
  const added = await mlpJson<AddedOut[]>(home, ['add', ...paths], { cwd: proj })
  expect(added).toHaveLength(BATCH_FILES)
  const dropped: string[] = []
  for (const [i, a] of added.entries()) {
    const file = join(proj, paths[i])
    if (i % KEEP_EVERY === 0) {
      kept.set(paths[i], { sha: sha256(file), cid: a.cid })
      continue
    }
    dropped.push(a.cid)
    rmSync(isAbsolute(a.pointer) ? a.pointer : join(proj, a.pointer))
    rmSync(file)
  }
  garbage.push(dropped)
}

/** One JSON line of daemon.log. */
interface LogLine { time: string, msg: string, pack?: number, packsToCompact?: number }

/** The daemon's log from byte `from` on, parsed (a torn last line, from a kill mid-write, is skipped). */
function logSince (from: number): LogLine[] {
  const file = join(home, 'daemon.log')
  const size = statSync(file).size
  if (size <= from) return []
  const fd = openSync(file, 'r')
  try {
    const buf = Buffer.alloc(size - from)
    readSync(fd, buf, 0, buf.length, from)
    return buf.toString('utf8').split('\n').flatMap((line) => {
      try {
        return [JSON.parse(line) as LogLine]
      } catch {
        return []
      }
    })
  } finally {
    closeSync(fd)
  }
}

function logSize (): number {
  return statSync(join(home, 'daemon.log')).size
}

/**
 * Polls the log from `from` until `found` holds for its lines; false when gc
 * exited first or after 30 s. Every millisecond: rewriting a small pack
 * takes a few.
 */
async function logShows (from: number, found: (lines: LogLine[]) => boolean, exited: () => boolean): Promise<boolean> {
  const deadline = Date.now() + 30_000
  while (Date.now() < deadline) {
    if (found(logSince(from))) return true
    if (exited()) return false
    await new Promise((resolve) => setTimeout(resolve, 1))
  }
  return false
}

const compactingLines = (lines: LogLine[]): number => lines.filter((l) => l.msg === 'gc compacting pack').length

/** `mlp verify` finds nothing corrupt or missing. */
async function expectVerifies (when: string): Promise<void> {
  const r = await mlp(home, ['verify', '--json'])
  const report = JSON.parse(r.stdout) as VerifyResult
  expect({ when, code: r.code, corrupt: report.corrupt, missing: report.missing }).toEqual({ when, code: 0, corrupt: [], missing: [] })
  expect(report.checkedBlocks).toBeGreaterThan(0)
}

/** Deletes every kept file from the workspace, `mlp checkout`, and compares each with the original. */
async function expectKeptRestored (when: string): Promise<void> {
  for (const rel of kept.keys()) rmSync(join(proj, rel))
  const r = await mlp(home, ['checkout', '--json'], { cwd: proj })
  expect({ when, code: r.code, stderr: r.stderr }).toEqual({ when, code: 0, stderr: '' })
  for (const [rel, { sha }] of kept) expect({ when, rel, sha: sha256(join(proj, rel)) }).toEqual({ when, rel, sha })
}

/** `mlp gc` as a child we can race a kill against; resolves with its exit code and when it exited. */
function startGc (): { pid: number, exited: Promise<{ code: number | null, at: number }> } {
  const child = spawn(process.execPath, [MLP_BIN, 'gc', '--json'], {
    cwd: proj,
    env: { ...process.env, NODE_ENV: undefined, ...ENV, MLP_HOME: home, NO_COLOR: '1' },
    stdio: 'ignore'
  })
  // bounded: with its daemon gone the CLI fails at once; this only guards a hang
  const guard = setTimeout(() => { if (child.pid != null && alive(child.pid)) process.kill(child.pid, 'SIGKILL') }, 45_000)
  const exited = new Promise<{ code: number | null, at: number }>((resolve) => {
    child.on('close', (code) => { clearTimeout(guard); resolve({ code, at: Date.now() }) })
  })
  return { pid: child.pid as number, exited }
}

describe('gc compaction killed at random points', () => {
  it(`kill -9 during the compaction of ${RUNS} gcs: the store verifies and every kept file is byte-identical; a final gc completes and removes the garbage`, async () => {
    // a first batch, in packs the restarted daemon no longer writes to
    await addBatch(0)
    process.kill(d.pid, 'SIGKILL')
    await waitFor('the daemon to exit', () => !alive(d.pid))
    d = await pool.start(home, DAEMON_ARGS, ENV)
    await addBatch(1)

    // one uninterrupted gc measures, from the daemon's log, how long its compaction takes
    const from = logSize()
    const first = await mlpJson<GcResult>(home, ['gc'], { cwd: proj, env: ENV })
    expect(first.compactedPacks).toBeGreaterThan(0)
    expect(first.removedBlocks).toBeGreaterThan(0)
    const lines = logSince(from)
    const compacting = lines.filter((l) => l.msg === 'gc compacting pack')
    expect(compacting).toHaveLength(first.compactedPacks)
    const done = lines.find((l) => l.msg === 'gc done')
    expect(done).toBeDefined()
    const windowMs = Math.max(1, Date.parse(done?.time ?? '') - Date.parse(compacting[0].time))
    // about how long one pack's rewrite takes: the kill's random delay after a 'compacting' line
    const perPackMs = Math.max(2, Math.ceil(windowMs / first.compactedPacks))
    await expectVerifies('after the measuring gc')
    await expectKeptRestored('after the measuring gc')

    const outcomes = { midCompaction: 0, finishedFirst: 0, noCompaction: 0 }
    const landed: string[] = []
    for (let run = 0; run < RUNS; run++) {
      // new kept and removed files each run, so every gc has packs to compact
      await addBatch(run + 2)
      const at = logSize()
      const gc = startGc()
      let exited = false
      void gc.exited.then(() => { exited = true })
      // a random pack of those this gc rewrites (the first, a middle one or the last), then a
      // random point of that pack's rewrite: copying its blocks, committing, or deleting it
      let target = 0
      let delay = 0
      if (await logShows(at, (lines) => lines.some((l) => l.msg === 'gc sweeping'), () => exited)) {
        const planned = logSince(at).find((l) => l.msg === 'gc sweeping')?.packsToCompact ?? 0
        target = planned === 0 ? 0 : 1 + Math.floor(Math.random() * planned)
        delay = Math.floor(Math.random() * perPackMs)
        if (target > 0 && await logShows(at, (lines) => compactingLines(lines) >= target, () => exited)) {
          await new Promise((resolve) => setTimeout(resolve, delay))
        }
      }
      process.kill(d.pid, 'SIGKILL')
      await waitFor('the killed daemon to exit', () => !alive(d.pid))
      await gc.exited
      const log = logSince(at)
      const packsDone = compactingLines(log)
      const packsPlanned = log.find((l) => l.msg === 'gc sweeping')?.packsToCompact ?? 0
      if (log.some((l) => l.msg === 'gc done')) outcomes.finishedFirst++
      else if (packsDone > 0) {
        outcomes.midCompaction++
        landed.push(`${packsDone}/${packsPlanned}`)
      } else outcomes.noCompaction++

      d = await pool.start(home, DAEMON_ARGS, ENV)
      const when = `run ${run} (killed ${delay} ms after pack ${target} started, in pack ${packsDone} of ${packsPlanned})`
      await expectVerifies(when)
      await expectKeptRestored(when)
    }
    console.log(`gc-crash: compaction window ${windowMs} ms (${perPackMs} ms a pack); of ${RUNS} kills: ${outcomes.midCompaction} mid-compaction (in pack k of n: ${landed.join(' ')}), ${outcomes.finishedFirst} after gc finished, ${outcomes.noCompaction} before compaction`)
    // the kills must really have hit the rewriting, or the checks above prove little
    expect(outcomes.midCompaction).toBeGreaterThanOrEqual(MIN_MID_COMPACTION)

    // a final batch, then a gc nobody kills: it finishes what the killed ones left
    await addBatch(RUNS + 2)
    const last = await mlpJson<GcResult>(home, ['gc'], { cwd: proj, env: ENV })
    expect(last.compactedPacks).toBeGreaterThan(0)
    expect(last.reclaimedBytes).toBeGreaterThan(0)
    // the summary adds up: what left the disk is what the pack files shrank by
    expect((last.packBytesBefore ?? 0) - (last.packBytesAfter ?? 0)).toBe(last.reclaimedBytes)
    await expectVerifies('after the final gc')
    await expectKeptRestored('after the final gc')

    // positive control: removed files are really gone (first, middle and last batches), kept ones are not
    for (const cid of [...garbage[0], ...garbage[Math.floor(RUNS / 2)], ...(garbage.at(-1) ?? [])]) {
      const cat = await mlp(home, ['cat', cid])
      expect({ cid, code: cat.code }).not.toEqual({ cid, code: 0 })
      expect(cat.stderr).toContain('is not in the local store')
    }
    const [rel, { sha, cid }] = [...kept][0]
    expect({ rel, sha: await catSha256(home, cid) }).toEqual({ rel, sha })
    expect(kept.size).toBe((RUNS + 3) * BATCH_FILES / KEEP_EVERY)
  }, 280_000)
})
