import { spawn } from 'node:child_process'
import { mkdirSync, readdirSync, rmSync, statSync } from 'node:fs'
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
// spread over many packs that each hold live and dead blocks, so every gc
// has real compaction to do when it is killed.

/** Small packs: a 100 KB file spans one or two, and most packs mix kept and removed files. */
const PACK_TARGET_BYTES = 128 * 1024
const ENV = { MLP_PACK_TARGET_BYTES: String(PACK_TARGET_BYTES) }
const DAEMON_ARGS = ['--listen', '/ip4/127.0.0.1/tcp/0', '--no-mdns']
const RUNS = 20
/** Files per batch, alternately kept and removed (garbage). */
const BATCH_FILES = 6

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
 * blocks interleave in the same packs), then untracks every second one:
 * pointer and file deleted, its blocks now garbage.
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
    if (i % 2 === 0) {
      kept.set(paths[i], { sha: sha256(file), cid: a.cid })
      continue
    }
    dropped.push(a.cid)
    rmSync(isAbsolute(a.pointer) ? a.pointer : join(proj, a.pointer))
    rmSync(file)
  }
  garbage.push(dropped)
}

/** Pack file names and sizes: a change between two listings means gc committed a compaction step. */
function packListing (): string {
  const dir = join(home, 'store', 'packs')
  return readdirSync(dir).sort().map((n) => `${n}:${statSync(join(dir, n)).size}`).join(',')
}

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
  it(`kill -9 during ${RUNS} gcs: the store verifies and every kept file is byte-identical; a final gc completes and removes the garbage`, async () => {
    // a first batch, in packs the restarted daemon no longer writes to
    await addBatch(0)
    process.kill(d.pid, 'SIGKILL')
    await waitFor('the daemon to exit', () => !alive(d.pid))
    d = await pool.start(home, DAEMON_ARGS, ENV)
    await addBatch(1)

    // one uninterrupted gc measures how long a gc with this much work takes
    const t0 = Date.now()
    const first = await mlpJson<GcResult>(home, ['gc'], { cwd: proj, env: ENV })
    const gcMs = Date.now() - t0
    expect(first.compactedPacks).toBeGreaterThan(0)
    expect(first.removedBlocks).toBeGreaterThan(0)
    await expectVerifies('after the measuring gc')
    await expectKeptRestored('after the measuring gc')

    const outcomes = { finishedFirst: 0, packsChanged: 0, packsUntouched: 0 }
    for (let run = 0; run < RUNS; run++) {
      // new kept and removed files each run, so every gc has packs to compact
      await addBatch(run + 2)
      const before = packListing()
      const gc = startGc()
      // up to the measured gc's whole duration (CLI start included), so kills land before, in and after compaction
      const delay = Math.floor(Math.random() * gcMs)
      const done = await Promise.race([gc.exited, new Promise<undefined>((resolve) => setTimeout(() => { resolve(undefined) }, delay))])
      const killedAt = Date.now()
      process.kill(d.pid, 'SIGKILL')
      await waitFor('the killed daemon to exit', () => !alive(d.pid))
      const exit = done ?? await gc.exited
      if (exit.code === 0 && exit.at <= killedAt) outcomes.finishedFirst++
      else if (packListing() !== before) outcomes.packsChanged++
      else outcomes.packsUntouched++

      d = await pool.start(home, DAEMON_ARGS, ENV)
      await expectVerifies(`run ${run} (killed after ${delay} ms)`)
      await expectKeptRestored(`run ${run} (killed after ${delay} ms)`)
    }
    console.log(`gc-crash: measured gc ${gcMs} ms; of ${RUNS} kills: ${outcomes.packsChanged} after gc changed packs, ${outcomes.packsUntouched} before it did, ${outcomes.finishedFirst} after gc finished`)

    // a final batch, then a gc nobody kills: it finishes what the killed ones left
    await addBatch(RUNS + 2)
    const last = await mlpJson<GcResult>(home, ['gc'], { cwd: proj, env: ENV })
    expect(last.compactedPacks).toBeGreaterThan(0)
    expect(last.reclaimedBytes).toBeGreaterThan(0)
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
    expect(kept.size).toBe((RUNS + 3) * BATCH_FILES / 2)
  }, 280_000)
})
