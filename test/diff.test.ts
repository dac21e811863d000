import { appendFileSync, existsSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { mlp, mlpJson, tempDir } from './helpers/cli.js'
import { DaemonPool, type TestDaemon } from './helpers/daemons.js'
import { BIG, EXPECTED, git, pathsOf, reviewProjectV1, reviewProjectV2, type DiffJson } from './helpers/review.js'

// `mlp diff`: what changed in tracked outputs between two revisions, or a
// revision and the workspace; on a teammate's machine that never held the
// old data, from directory blocks and file root nodes the teammate gives.

/** A content id (of a one-byte block) for pointer files the test writes by hand. */
const HOSTILE_CID = 'bafkr4ihdbaa7qbb6rn7hcvsk5dzcpzfgx2uwrqm5tfpyzhr2cxhzxwz4ye'

const pool = new DaemonPool()
let a: TestDaemon
let b: TestDaemon
let proj: string

// two commits with a pipeline run each (and daemons to start): slow beside other test files on two cores
beforeAll(async () => {
  a = await pool.start()
  b = await pool.start()
  await mlpJson(b.home, ['peers', 'add', a.addrs[0]])
  proj = await reviewProjectV1(a.home)
  await reviewProjectV2(a.home, proj)
}, 180_000)
afterAll(async () => { await pool.cleanup() })

describe('mlp diff', () => {
  it('lists exactly the added, deleted, modified and renamed files between two commits', async () => {
    const d = await mlpJson<DiffJson>(a.home, ['diff', 'HEAD~1', 'HEAD'], { cwd: proj })
    expect(pathsOf(d)).toEqual(EXPECTED)
    expect(d.a).toEqual({ rev: 'HEAD~1', commit: git(proj, ['rev-parse', 'HEAD~1']).trim() })
    // a multi-chunk file's size is its own (its root node's), not the DAG bytes its directory link counts
    const big = d.modified.find((e) => e.path === 'data/big.bin')
    expect(big?.old.size).toBe(BIG)
    expect(big?.new.size).toBe(BIG)
    expect(big?.old.cid).not.toBe(big?.new.cid)
    expect(d.summary).toMatchObject({ added: 1, deleted: 1, modified: 5, renamed: 1 })
    expect(d.summary.bytes.added).toBe(d.added[0].new.size)
    expect(d.summary.bytes.deleted).toBe('remove me\n'.length)
    // all local: nothing came from peers
    expect(d.fetchedBlocks).toBe(0)
    // the human form says the same
    const text = await mlp(a.home, ['diff', 'HEAD~1', 'HEAD'], { cwd: proj })
    expect(text.code, text.stderr).toBe(0)
    expect(text.stdout).toContain('renamed:  data/move_me.bin -> data/moved.bin')
    expect(text.stdout).toContain('1 added')
  })

  it('--targets narrows the diff to a path', async () => {
    const d = await mlpJson<DiffJson>(a.home, ['diff', 'HEAD~1', 'HEAD', '--targets', 'model'], { cwd: proj })
    expect(pathsOf(d)).toEqual({ added: [], deleted: [], modified: ['model/size.txt', 'model/weights.txt'], renamed: [] })
    // the flag may come first and repeat; each takes one path
    const inside = await mlpJson<DiffJson>(a.home, ['diff', '--targets', 'data/big.bin', '--targets', 'data/keep.txt', 'HEAD~1', 'HEAD'], { cwd: proj })
    expect(pathsOf(inside)).toEqual({ added: [], deleted: [], modified: ['data/big.bin'], renamed: [] })
    const untracked = await mlp(a.home, ['diff', 'HEAD~1', 'HEAD', '--targets', 'train.js'], { cwd: proj })
    expect(untracked.code).not.toBe(0)
    expect(untracked.stderr).toContain('train.js is not a tracked output')
  })

  it('HEAD against the workspace: clean, then an uncommitted edit is listed', async () => {
    const clean = await mlpJson<DiffJson>(a.home, ['diff'], { cwd: proj })
    expect(pathsOf(clean)).toEqual({ added: [], deleted: [], modified: [], renamed: [] })
    expect(clean.b).toEqual({ rev: 'workspace' })
    appendFileSync(join(proj, 'data', 'keep.txt'), 'an edit not yet added\n')
    const edited = await mlpJson<DiffJson>(a.home, ['diff'], { cwd: proj })
    expect(pathsOf(edited)).toEqual({ added: [], deleted: [], modified: ['data/keep.txt'], renamed: [] })
    expect(edited.modified[0].new.size).toBe('keep\nan edit not yet added\n'.length)
  })

  it('unknown revisions fail non-zero, naming the revision; params and metrics diff too', async () => {
    for (const args of [['diff', 'nosuchrev'], ['diff', 'HEAD', 'nosuchrev'], ['params', 'diff', 'nosuchrev'], ['metrics', 'diff', 'nosuchrev'], ['diff', '--', '-x']]) {
      const r = await mlp(a.home, args, { cwd: proj })
      expect(r.code, `mlp ${args.join(' ')}`).not.toBe(0)
      expect(r.stderr).toContain(args[args.length - 1])
      expect(r.stderr.trim().split('\n')).toHaveLength(1)
    }
    // positive control: a real revision works for each
    const params = await mlpJson(a.home, ['params', 'diff', 'HEAD~1'], { cwd: proj })
    expect(params).toEqual([{ file: 'params.yaml', key: 'train.lr', old: 0.1, new: 0.2 }])
    const metrics = await mlpJson<Array<{ key: string, old: number, new: number }>>(a.home, ['metrics', 'diff', 'HEAD~1'], { cwd: proj })
    expect(metrics).toEqual([{ file: 'metrics.json', key: 'acc', old: 0.8, new: 0.85 }, { file: 'metrics.json', key: 'loss', old: 0.5, new: 0.4 }])
  }, 180_000)

  it('a pointer file from a commit naming a path outside the project fails the diff in one line, writing nothing', async () => {
    git(proj, ['checkout', '-q', '-b', 'hostile'])
    writeFileSync(join(proj, 'evil.mlp'), `outs:\n  - path: ../escape\n    cid: ${HOSTILE_CID}\n    size: 1\n`)
    git(proj, ['add', 'evil.mlp'])
    git(proj, ['commit', '-q', '-m', 'hostile pointer'])
    git(proj, ['checkout', '-q', '-'])
    const r = await mlp(a.home, ['diff', 'HEAD', 'hostile'], { cwd: proj })
    expect(r.code).not.toBe(0)
    expect(r.stderr).toContain('evil.mlp')
    expect(r.stderr).toContain('../escape')
    expect(r.stderr.trim().split('\n')).toHaveLength(1)
    expect(existsSync(join(proj, '..', 'escape'))).toBe(false)
    // positive control: the branch it came from diffs fine
    const ok = await mlpJson<DiffJson>(a.home, ['diff', 'HEAD~1', 'HEAD'], { cwd: proj })
    expect(pathsOf(ok)).toEqual(EXPECTED)
  })

  it('on a teammate\'s machine that never held the data: listed from directory blocks the teammate gives, contents not fetched', async () => {
    const remote = await tempDir('mlp-remote-')
    git(remote, ['init', '-q', '--bare'])
    git(proj, ['push', '-q', remote, 'HEAD:refs/heads/main'])
    const projB = join(await tempDir('mlp-b-'), 'proj')
    git(remote, ['clone', '-q', '-b', 'main', remote, projB])
    const d = await mlpJson<DiffJson>(b.home, ['diff', 'HEAD~1', 'HEAD'], { cwd: projB })
    expect(pathsOf(d)).toEqual(EXPECTED)
    expect(d.modified.find((e) => e.path === 'data/big.bin')?.old.size).toBe(BIG)
    expect(d.fetchedBlocks).toBeGreaterThan(0)
    // nothing was stored: the big file's bytes are still not here
    const big = d.modified.find((e) => e.path === 'data/big.bin')?.new.cid as string
    const cat = await mlp(b.home, ['cat', big], { cwd: projB })
    expect(cat.code).not.toBe(0)
    // the old metrics, a cached out, come from the teammate too
    const metrics = await mlpJson<Array<{ key: string, old: unknown }>>(b.home, ['metrics', 'diff', 'HEAD~1'], { cwd: projB })
    expect(metrics.find((m) => m.key === 'acc')?.old).toBe(0.8)

    // a machine with no teammate online: the documented message, naming the revision and how to fetch
    const c = await pool.start(undefined, undefined, undefined, { team: false })
    const alone = await mlp(c.home, ['diff', 'HEAD~1', 'HEAD'], { cwd: projB })
    expect(alone.code).not.toBe(0)
    expect(alone.stderr).toMatch(/at HEAD~1 .*is not on this machine and no connected peer gave its listing.*mlp fetch/)
    const noMetrics = await mlp(c.home, ['metrics', 'diff', 'HEAD~1'], { cwd: projB })
    expect(noMetrics.code).not.toBe(0)
    expect(noMetrics.stderr).toMatch(/metrics file metrics\.json at HEAD~1 .*mlp fetch/)
  }, 180_000)
})
