import { mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { ExpRecord } from '@mlp/proto'
import { afterAll, describe, expect, it } from 'vitest'
import { ExpRecords } from '../src/exp/records.js'
import { expRootSource } from '../src/exp/roots.js'
import { applyParamSets, parseParamSet } from '../src/exp/set-params.js'
import { experimentRows } from '../src/exp/show.js'

const dir = await mkdtemp(join(tmpdir(), 'mlp-exp-rows-'))
afterAll(async () => { await rm(dir, { recursive: true, force: true }) })

const AUTHOR = '12D3KooWGzh5Rb3Ggtr4AiNnRSmWcAgjBXkgu2uWFgEvDWVmK3Ld'
const CID_A = 'bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku'
const CID_B = 'bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy'

function rec (name: string, over: Partial<ExpRecord> = {}): ExpRecord {
  return { v: 1, project: 'a'.repeat(32), author: AUTHOR, name, state: 'done', base: 'b'.repeat(40), params: [], metrics: [], locks: [], ranOn: {}, startedAt: '2026-01-01T00:00:00.000Z', durationMs: 1, at: '2026-01-01T00:00:01.000Z', sig: 'x', ...over }
}

describe('exp show rows', () => {
  const acc = (v: number): ExpRecord['metrics'] => [{ file: 'metrics.json', key: 'acc', value: v }]
  const records = [
    rec('low', { metrics: acc(0.5), startedAt: '2026-01-01T00:00:03.000Z' }),
    rec('high', { metrics: acc(0.9), startedAt: '2026-01-01T00:00:01.000Z' }),
    rec('none', { startedAt: '2026-01-01T00:00:02.000Z' }),
    rec('gone', { state: 'removed', metrics: acc(1) })
  ]

  it('newest first without --sort-by, removed ones left out', () => {
    expect(experimentRows(records, AUTHOR).map((r) => r.name)).toEqual(['low', 'none', 'high'])
    expect(experimentRows(records, AUTHOR)[0].mine).toBe(true)
    expect(experimentRows(records, 'someone-else')[0].mine).toBe(false)
  })

  it('sorted by a metric, ascending or descending, rows without it last', () => {
    expect(experimentRows(records, AUTHOR, 'acc').map((r) => r.name)).toEqual(['low', 'high', 'none'])
    expect(experimentRows(records, AUTHOR, 'metrics.json:acc', 'desc').map((r) => r.name)).toEqual(['high', 'low', 'none'])
    expect(() => experimentRows(records, AUTHOR, 'loss')).toThrow(/no experiment has a metric 'loss': metrics are acc/)
  })
})

describe('-S writes params files', () => {
  it('changes only the keys named, keeping comments; one bad -S changes nothing', async () => {
    const text = '# settings\ntrain:\n  lr: 0.1 # step\n  epochs: 3\n'
    await writeFile(join(dir, 'params.yaml'), text)
    await applyParamSets(dir, [parseParamSet('train.lr=0.2'), parseParamSet('train.layers=[8, 4]')])
    expect(await readFile(join(dir, 'params.yaml'), 'utf8')).toBe('# settings\ntrain:\n  lr: 0.2 # step\n  epochs: 3\n  layers:\n    - 8\n    - 4\n')
    const before = await readFile(join(dir, 'params.yaml'), 'utf8')
    await expect(applyParamSets(dir, [parseParamSet('train.lr=0.5'), parseParamSet('other.yaml:x=1')])).rejects.toThrow(/other\.yaml does not exist/)
    expect(await readFile(join(dir, 'params.yaml'), 'utf8')).toBe(before)
    // a symlinked params file is not written through
    await symlink('/etc/hostname', join(dir, 'linked.yaml'))
    await expect(applyParamSets(dir, [parseParamSet('linked.yaml:x=1')])).rejects.toThrow(/not a regular file/)
  })
})

describe('gc roots of experiments', () => {
  it('keeps the lock outs of live experiments, not of removed ones', async () => {
    const records = new ExpRecords(join(dir, 'exps'))
    const lock = (cid: string): ExpRecord['locks'] => [{ path: 'mlp.lock', text: `schema: '2.0'\nstages:\n  train:\n    outs:\n    - path: model.bin\n      cid: ${cid}\n      size: 1\n` }]
    await records.put(rec('live', { locks: lock(CID_A) }))
    await records.put(rec('removed', { state: 'removed', locks: lock(CID_B) }))
    const roots = await expRootSource(records).roots({ scope: 'workspace', record: false })
    expect(roots.roots).toEqual([])
    expect(roots.optional?.map((c) => c.toString())).toEqual([CID_A])
  })
})
