import { execFileSync } from 'node:child_process'
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { beforeAll, describe, expect, it } from 'vitest'
import type { ExpRecord } from '@mlp/proto'
import { withExperiments } from '../src/plots/experiments.js'
import { branchExperiments } from '../src/report/experiments.js'

// Experiment records as revisions (`plots diff <exp>`) and as the branch's
// experiments (`mlp report`): which records a name or a branch selects.

const PROJECT = 'e'.repeat(32)
const SELF = '12D3KooW' + 'a'.repeat(44)
const MATE = '12D3KooW' + 'b'.repeat(44)
const OTHER = '12D3KooW' + 'c'.repeat(44)

let root: string
const commits: string[] = []

function git (...args: string[]): string {
  return execFileSync('git', ['-c', 'user.email=t@example.com', '-c', 'user.name=t', ...args], { cwd: root, encoding: 'utf8' }).trim()
}

function record (name: string, author: string, base: string, extra: Partial<ExpRecord> = {}): ExpRecord {
  return { v: 1, project: PROJECT, author, name, state: 'done', base, params: [], metrics: [], locks: [{ path: 'mlp.lock', text: `schema: '2.0'\nstages: {}\n# ${name}\n` }], ranOn: {}, startedAt: '2026-01-01T00:00:00Z', durationMs: 1, at: '2026-01-01T00:00:00Z', sig: 'x', ...extra }
}

beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), 'mlp-exp-revs-'))
  git('init', '-q', '-b', 'main')
  mkdirSync(join(root, '.mlp'))
  writeFileSync(join(root, '.mlp', 'config.yaml'), `project_id: ${PROJECT}\n`)
  for (const n of ['0', '1', '2']) {
    writeFileSync(join(root, 'f.txt'), n)
    git('add', '-A')
    git('commit', '-qm', n)
    commits.push(git('rev-parse', 'HEAD'))
  }
  git('branch', 'shadow', commits[0])
})

describe('plots diff: an experiment name where a revision goes', () => {
  it('a name git knows stays a revision; otherwise the experiment, own before a teammate\'s', async () => {
    const records = [record('lr02', SELF, commits[2]), record('lr02', MATE, commits[1]), record('shadow', SELF, commits[2]), record('mates', MATE, commits[1])]
    const e = { list: (p: string) => p === PROJECT ? records : [], self: SELF }
    const got = await withExperiments(e, root, ['HEAD', 'shadow', 'lr02', `${MATE.slice(0, 20)}/lr02`, 'mates', 'workspace'])
    expect(got[0]).toBe('HEAD')
    // a branch named like an experiment is the branch
    expect(got[1]).toBe('shadow')
    expect(got[2]).toEqual({ rev: 'lr02', label: 'lr02', experiment: { base: commits[2], locks: records[0].locks } })
    expect(got[3]).toEqual({ rev: 'lr02', label: 'lr02', experiment: { base: commits[1], locks: records[1].locks } })
    expect(got[4]).toMatchObject({ rev: 'mates', experiment: { base: commits[1] } })
    expect(got[5]).toBe('workspace')
  })

  it('refuses an unknown name, a removed or unfinished experiment, and a name two teammates used', async () => {
    const records = [record('gone', SELF, commits[2], { state: 'removed' }), record('queued', SELF, commits[2], { state: 'queued' }), record('twice', MATE, commits[1]), record('twice', OTHER, commits[1])]
    const e = { list: () => records, self: SELF }
    await expect(withExperiments(e, root, ['nosuch'])).rejects.toThrow(/unknown revision "nosuch"/)
    await expect(withExperiments(e, root, ['gone'])).rejects.toThrow(/unknown revision "gone"/)
    await expect(withExperiments(e, root, ['queued'])).rejects.toThrow(/experiment 'queued' is queued/)
    await expect(withExperiments(e, root, ['twice'])).rejects.toThrow(/names experiments of 2 teammates/)
    // control: naming the author picks one
    expect(await withExperiments(e, root, [`${OTHER}/twice`])).toMatchObject([{ rev: 'twice', experiment: { base: commits[1] } }])
  })
})

describe('report: the branch\'s experiments', () => {
  it('started from the base or a commit since it, newest first, capped with a count', async () => {
    const records = [
      record('before', SELF, commits[0], { startedAt: '2026-01-05T00:00:00Z' }),
      record('at-base', MATE, commits[1], { startedAt: '2026-01-01T00:00:00Z' }),
      record('on-branch', SELF, commits[2], { startedAt: '2026-01-03T00:00:00Z' }),
      record('removed', SELF, commits[2], { state: 'removed' }),
      record('other-project', SELF, commits[2], { project: 'd'.repeat(32) })
    ]
    const e = { list: (p: string) => records.filter((r) => r.project === p), self: SELF }
    const got = await branchExperiments(e, root, commits[1])
    expect(got.shown.map((r) => r.name)).toEqual(['on-branch', 'at-base'])
    expect(got.more).toBe(0)
    const many = Array.from({ length: 25 }, (_, i) => record(`e${i}`, SELF, commits[2], { startedAt: `2026-01-01T00:00:${String(i).padStart(2, '0')}Z` }))
    const capped = await branchExperiments({ list: () => many, self: SELF }, root, commits[1])
    expect(capped.shown).toHaveLength(20)
    expect(capped.shown[0].name).toBe('e24')
    expect(capped.more).toBe(5)
  })
})
