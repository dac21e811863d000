import { describe, expect, it } from 'vitest'
import { compareSides, type SideFile } from '../src/diff/compare.js'
import { lockOuts } from '../src/diff/tracked.js'

const CID_A = 'bafkr4ihdbaa7qbb6rn7hcvsk5dzcpzfgx2uwrqm5tfpyzhr2cxhzxwz4ye'
const CID_B = 'bafkr4ie7x4mztxqgrbdifcfcxrm7aqdijruzhzn5yr3fviqdd2h6kahnhm'

const side = (files: Record<string, [string, number]>): Map<string, SideFile> => new Map(Object.entries(files).map(([p, [cid, size]]) => [p, { cid, size, out: 'data' }]))

describe('compareSides', () => {
  it('sorts files into added, deleted, modified and renamed, with counts and bytes', () => {
    const old = side({ 'data/keep': ['k', 1], 'data/mod': ['m1', 10], 'data/gone': ['g', 5], 'data/from': ['r', 7] })
    const now = side({ 'data/keep': ['k', 1], 'data/mod': ['m2', 12], 'data/new': ['n', 3], 'data/to': ['r', 7] })
    const c = compareSides(old, now)
    expect(c.added.map((e) => e.path)).toEqual(['data/new'])
    expect(c.deleted.map((e) => e.path)).toEqual(['data/gone'])
    expect(c.modified).toEqual([{ path: 'data/mod', out: 'data', old: { cid: 'm1', size: 10 }, new: { cid: 'm2', size: 12 } }])
    expect(c.renamed).toEqual([{ path: 'data/to', oldPath: 'data/from', out: 'data', old: { cid: 'r', size: 7 }, new: { cid: 'r', size: 7 } }])
    expect(c.summary).toEqual({ added: 1, deleted: 1, modified: 1, renamed: 1, bytes: { added: 3, deleted: 5, modifiedOld: 10, modifiedNew: 12 } })
  })

  it('pairs each deleted file with at most one added file of the same content (copies stay added)', () => {
    const c = compareSides(side({ 'a/x': ['same', 1] }), side({ 'b/x': ['same', 1], 'b/y': ['same', 1] }))
    expect(c.renamed.map((e) => `${e.oldPath ?? ''}->${e.path}`)).toEqual(['a/x->b/x'])
    expect(c.added.map((e) => e.path)).toEqual(['b/y'])
    expect(c.deleted).toEqual([])
  })

  it('two identical sides: nothing changed', () => {
    const s = side({ 'd/a': ['1', 1], 'd/b': ['2', 2] })
    expect(compareSides(s, new Map(s))).toMatchObject({ added: [], deleted: [], modified: [], renamed: [] })
  })
})

describe('lockOuts (a lock file from a commit is hostile input)', () => {
  it('reads the outs of a well-formed lock (positive control)', () => {
    const text = `schema: '2.0'\nstages:\n  train:\n    cmd: x\n    outs:\n      - path: model\n        cid: ${CID_A}\n        size: 12\n      - path: m.json\n        cid: ${CID_B}\n        size: 3\n`
    expect(lockOuts(text, 'v1:mlp.lock').map((o) => [o.path, o.cid.toString(), o.size])).toEqual([['model', CID_A, 12], ['m.json', CID_B, 3]])
  })

  for (const [what, path] of [['a climbing path', '../outside'], ['an absolute path', '/etc/passwd'], ['a .git component', 'a/.git/hooks'], ['a control character', 'a\nb']]) {
    it(`refuses ${what}`, () => {
      const text = `stages:\n  s:\n    outs:\n      - path: ${JSON.stringify(path)}\n        cid: ${CID_A}\n        size: 1\n`
      expect(() => lockOuts(text, 'v1:mlp.lock')).toThrow(/v1:mlp\.lock/)
    })
  }

  it('refuses a cid that is not a content id, and a lock that is not a mapping of stages', () => {
    expect(() => lockOuts('stages:\n  s:\n    outs:\n      - path: a\n        cid: nope\n        size: 1\n', 'v1:mlp.lock')).toThrow(/'nope' is not a content id/)
    expect(() => lockOuts('stages: 3\n', 'v1:mlp.lock')).toThrow(/expected 'schema' and 'stages'/)
    expect(() => lockOuts('stages:\n  s:\n    outs: 4\n', 'v1:mlp.lock')).toThrow(/not a list/)
  })
})
