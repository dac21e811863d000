import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import type { DiffResult, ExpRecord } from '@mlp/proto'
import { durationSeconds, lockDuration, readLock, writeLock } from '../src/pipeline/lock.js'
import { experimentsSection, REPORT_MAX_EXPERIMENTS } from '../src/report/experiments.js'
import { renderReport, seconds } from '../src/report/render.js'

// How long a stage ran, kept in mlp.lock, and the branch's experiments, both
// shown in a report: every value comes from a commit or a teammate's record.

const HOSTILE = '<script>alert(1)</script>|`x`](javascript:alert(1))'
const SELF = '12D3KooW' + 'a'.repeat(44)
const MATE = '12D3KooW' + 'b'.repeat(44)

/** The number of cells of a markdown table row: `|` not preceded by a backslash. */
const cells = (row: string): number => row.split(/(?<!\\)\|/).length - 2

const noDiff: DiffResult = { a: { rev: 'main', commit: 'a'.repeat(40) }, b: { rev: 'workspace' }, added: [], deleted: [], modified: [], renamed: [], summary: { added: 0, deleted: 0, modified: 0, renamed: 0, bytes: { added: 0, deleted: 0, modifiedOld: 0, modifiedNew: 0 } }, fetchedBlocks: 0 }

function record (name: string, startedAt: string, extra: Partial<ExpRecord> = {}): ExpRecord {
  return { v: 1, project: 'f'.repeat(32), author: SELF, name, state: 'done', base: 'c'.repeat(40), params: [{ file: 'params.yaml', key: 'train.lr', old: 0.1, new: 0.2 }], metrics: [{ file: 'metrics.json', key: 'acc', value: 0.9 }], locks: [], ranOn: { train: SELF }, startedAt, durationMs: 1000, at: startedAt, sig: 'x', ...extra }
}

function widthsStable (md: string): void {
  let width = -1
  for (const line of md.split('\n')) {
    if (!line.startsWith('|')) {
      width = -1
      continue
    }
    if (width < 0) width = cells(line)
    expect(cells(line), line).toBe(width)
  }
}

describe('mlp.lock duration_s and restored_from', () => {
  it('are written beside ran_on and read back; a lock without them still reads', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mlp-lock-dur-'))
    const file = join(dir, 'mlp.lock')
    await writeLock(file, {
      schema: '2.0',
      stages: {
        train: { cmd: 'python train.py', deps: [], params: {}, outs: [{ path: 'model.pt', cid: 'bafk', size: 1 }], ran_on: SELF, duration_s: durationSeconds(12_345.6) },
        eval: { cmd: 'python eval.py', deps: [], params: {}, outs: [], ran_on: MATE, restored_from: MATE }
      }
    }, ['train', 'eval'])
    const text = readFileSync(file, 'utf8')
    expect(text).toContain('duration_s: 12.346')
    expect(text).toContain(`restored_from: ${MATE}`)
    const lock = readLock(file)
    expect(lockDuration(lock.stages.train)).toBe(12.346)
    expect(lock.stages.eval.restored_from).toBe(MATE)
    expect(lockDuration(lock.stages.eval)).toBeUndefined()
    // a lock from before durations were recorded
    writeFileSync(file, 'schema: "2.0"\nstages:\n  train:\n    cmd: python train.py\n    ran_on: x\n')
    expect(lockDuration(readLock(file).stages.train)).toBeUndefined()
  })

  it('a duration that is not a plain non-negative number is not believed', () => {
    for (const bad of ['12', -1, Number.NaN, Number.POSITIVE_INFINITY, { s: 1 }, null]) expect(lockDuration({ duration_s: bad })).toBeUndefined()
    // positive control
    expect(lockDuration({ duration_s: 0.5 })).toBe(0.5)
  })

  it('prints seconds for a person', () => {
    expect(seconds(0.0424)).toBe('0.04 s')
    expect(seconds(42.44)).toBe('42.4 s')
    expect(seconds(3 * 3600 + 125)).toBe('3h 2m 5s')
  })
})

describe('a report shows where and how long each stage ran, and the branch\'s experiments', () => {
  it('stages: duration, restored, unknown; hostile stage and peer names stay in their cells', () => {
    const md = renderReport({
      branch: 'feature',
      base: { rev: 'main', commit: 'a'.repeat(40), how: 'given' },
      diff: noDiff,
      params: [],
      metrics: [],
      directions: new Map(),
      stages: [
        { stage: 'train', ranOn: SELF, state: 'reran', duration: 75 },
        { stage: 'eval', ranOn: MATE, state: 'reran', restoredFrom: HOSTILE },
        { stage: HOSTILE, ranOn: HOSTILE, state: 'new' }
      ],
      plots: [],
      plotsRendered: true
    })
    expect(md).toContain(`| train | reran | ${SELF} | 1m 15s |`)
    expect(md).toMatch(/\| eval \| reran \| \S+ \| restored from the run cache of &lt;script&gt;/)
    expect(md).not.toContain('does not record it yet')
    expect(md).not.toMatch(/<script/i)
    widthsStable(md)
  })

  it('experiments: newest first, this machine named, hostile fields escaped, capped with a count', () => {
    const hostile = record('evil', '2026-01-03T00:00:00Z', { author: MATE, params: [{ file: 'params.yaml', key: HOSTILE, old: 1, new: HOSTILE }], metrics: [{ file: 'm.json', key: HOSTILE, value: HOSTILE }], ranOn: { train: MATE } })
    const md = experimentsSection({ shown: [hostile, record('lr02', '2026-01-02T00:00:00Z')], more: 0 }, SELF).join('\n')
    const rows = md.split('\n').filter((l) => l.startsWith('| ') && !l.startsWith('| name') && !l.startsWith('| ---'))
    expect(rows[0]).toMatch(new RegExp(`^\\| evil \\| ${MATE} \\| done \\| ${MATE} \\| `))
    expect(rows[1]).toBe(`| lr02 | this machine | done | ${SELF} | train.lr=0.2 | acc=0.9 |`)
    expect(md).not.toMatch(/<script/i)
    expect(md).not.toMatch(/\]\(javascript:/i)
    widthsStable(md)
    const many = experimentsSection({ shown: Array.from({ length: REPORT_MAX_EXPERIMENTS }, (_, i) => record(`e${i}`, '2026-01-01T00:00:00Z')), more: 5 }, SELF).join('\n')
    expect(many).toContain(`The ${REPORT_MAX_EXPERIMENTS} most recent of ${REPORT_MAX_EXPERIMENTS + 5}`)
    expect(many).toContain('5 more not shown')
    expect(experimentsSection({ shown: [], more: 0 }, SELF).join('\n')).toContain('No experiment started from this branch')
  })
})
