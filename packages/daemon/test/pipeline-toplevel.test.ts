import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { buildGraph } from '../src/pipeline/graph.js'
import { metricFiles, readDag, readMetrics, readParamsDiff } from '../src/pipeline/read-only.js'
import { loadPipeline } from '../src/pipeline/schema.js'
import { $, git, project } from './helpers/pipeline-project.js'

// shaped like DVC's example project: the metrics file is named only at the top level
const EXAMPLE = [
  'vars:',
  '  - evaldir: eval',
  'params:',
  '  - extra.yaml',
  'metrics:',
  `  - ${$('evaldir')}/metrics.json`,
  'plots:',
  `  - ${$('evaldir')}/plots/roc.json:`,
  '      x: fpr',
  '      y: tpr',
  '  - eval/prc.json',
  'stages:',
  '  train:',
  '    cmd: python train.py',
  '    deps: [data.csv]',
  '    params: [train.lr]',
  '    outs: [model.pkl]',
  '  evaluate:',
  '    cmd: python evaluate.py',
  '    deps: [model.pkl]',
  '    outs: [eval]',
  ''
].join('\n')

describe('top-level metrics, params and plots', () => {
  it('are returned by loadPipeline, interpolated with the global vars', async () => {
    const dir = await project({ 'dvc.yaml': EXAMPLE })
    const p = loadPipeline(join(dir, 'dvc.yaml'))
    expect(p.metrics).toEqual(['eval/metrics.json'])
    expect(p.params).toEqual(['extra.yaml'])
    expect(p.plots).toEqual(['eval/plots/roc.json', 'eval/prc.json'])
    expect(p.stages.map((s) => s.name)).toEqual(['train', 'evaluate'])
  })

  it('are empty lists when absent', async () => {
    const dir = await project({ 'dvc.yaml': 'stages:\n  a:\n    cmd: echo\n' })
    const p = loadPipeline(join(dir, 'dvc.yaml'))
    expect([p.metrics, p.params, p.plots]).toEqual([[], [], []])
  })

  it.each([
    ['metrics: eval/metrics.json\n', "top-level 'metrics': must be a list"],
    ['metrics:\n  - ../outside.json\n', "path '../outside.json' must stay inside the project"],
    ['params:\n  - /etc/passwd\n', "path '/etc/passwd' must stay inside the project"],
    ['metrics:\n  - a.json: {cache: false}\n', "top-level 'metrics': each entry must be a path"],
    ['plots:\n  - 3\n', "top-level 'plots': each entry must be a path or a mapping"]
  ])('refuse %j', async (yaml, message) => {
    const dir = await project({ 'dvc.yaml': yaml })
    expect(() => loadPipeline(join(dir, 'dvc.yaml'))).toThrow(message)
    // control: the same file without the bad list loads
    await writeFile(join(dir, 'dvc.yaml'), 'metrics:\n  - ok.json\n')
    expect(loadPipeline(join(dir, 'dvc.yaml')).metrics).toEqual(['ok.json'])
  })

  it('metrics show reads the top-level metrics file, each file once', async () => {
    const dir = await project({
      'dvc.yaml': EXAMPLE + '  score:\n    cmd: echo\n    metrics: [eval/metrics.json]\n'.replace('eval/metrics.json', 'score.json'),
      'eval/metrics.json': JSON.stringify({ avg_prec: 0.9, roc_auc: { test: 0.8 } }),
      'score.json': '{"acc": 1}'
    })
    expect(metricFiles(dir)).toEqual(['score.json', 'eval/metrics.json'])
    expect(readMetrics(join(dir, 'eval'))).toEqual([
      { file: 'score.json', key: 'acc', value: 1 },
      { file: 'eval/metrics.json', key: 'avg_prec', value: 0.9 },
      { file: 'eval/metrics.json', key: 'roc_auc.test', value: 0.8 }
    ])
  })

  it('a top-level metrics file listed twice (also a stage metric) counts once', async () => {
    const dir = await project({ 'dvc.yaml': 'metrics: [m.json]\nstages:\n  a:\n    cmd: echo\n    metrics: [m.json]\n' })
    expect(metricFiles(dir)).toEqual(['m.json'])
  })

  it('a top-level metrics folder means the JSON and YAML files below it', async () => {
    const dir = await project({
      'dvc.yaml': 'metrics: [eval, single.json]\n',
      'eval/metrics.json': '{"acc": 0.5}',
      'eval/sub/loss.yaml': 'loss: 2\n',
      'eval/notes.txt': 'not a metric',
      'single.json': '{"n": 1}'
    })
    expect(metricFiles(dir)).toEqual(['eval/metrics.json', 'eval/sub/loss.yaml', 'single.json'])
    expect(readMetrics(dir).map((m) => `${m.file}:${m.key}=${String(m.value)}`)).toEqual(['eval/metrics.json:acc=0.5', 'eval/sub/loss.yaml:loss=2', 'single.json:n=1'])
  })

  it('params diff includes a top-level params file no stage names', async () => {
    const dir = await project({ 'dvc.yaml': EXAMPLE, 'params.yaml': 'train:\n  lr: 0.1\n', 'extra.yaml': 'seed: 1\n' })
    git(dir, 'init', '-q')
    git(dir, 'add', '.')
    git(dir, 'commit', '-q', '-m', 'start')
    expect(await readParamsDiff(dir)).toEqual([])
    await writeFile(join(dir, 'extra.yaml'), 'seed: 2\n')
    await writeFile(join(dir, 'params.yaml'), 'train:\n  lr: 0.2\n')
    expect(await readParamsDiff(dir)).toEqual([
      { file: 'extra.yaml', key: 'seed', old: 1, new: 2 },
      { file: 'params.yaml', key: 'train.lr', old: 0.1, new: 0.2 }
    ])
  })
})

describe('missing deps and the dag', () => {
  const yaml = [
    'stages:',
    '  prepare:',
    '    cmd: echo',
    '    deps: [raw/a.csv]',
    '    outs: [prepared]',
    '  train:',
    '    cmd: echo',
    '    deps: [prepared, conf/missing.yaml]',
    '    params: [train.lr, {extra.yaml: [seed]}]',
    '    outs: [model]',
    ''
  ].join('\n')

  it('buildGraph stops at a missing dep, or with collectMissing records each one', async () => {
    const dir = await project({ 'dvc.yaml': yaml })
    const { stages } = loadPipeline(join(dir, 'dvc.yaml'))
    expect(() => buildGraph(stages, 'dvc.yaml', dir)).toThrow("stage 'prepare': dep 'raw/a.csv' does not exist and no stage writes it")
    const g = buildGraph(stages, 'dvc.yaml', dir, true)
    expect(Object.fromEntries(g.missing)).toEqual({ prepare: ['raw/a.csv'], train: ['conf/missing.yaml'] })
    expect(g.order).toEqual(['prepare', 'train'])
    expect(g.edges).toEqual([['prepare', 'train']])
    // control: once the files exist nothing is missing and the strict build passes
    await mkdir(join(dir, 'raw'))
    await mkdir(join(dir, 'conf'))
    await writeFile(join(dir, 'raw/a.csv'), 'x')
    await writeFile(join(dir, 'conf/missing.yaml'), 'x')
    expect(buildGraph(stages, 'dvc.yaml', dir).missing.size).toBe(0)
  })

  it('readDag gives each stage its params, files relative to the root', async () => {
    const dir = await project({ 'dvc.yaml': yaml.replace('    cmd: echo\n    deps: [prepared', '    cmd: echo\n    wdir: sub\n    deps: [../prepared').replace('[model]', '[../model]') })
    const dag = readDag(dir)
    expect(dag.stages.find((s) => s.name === 'prepare')?.params).toEqual([])
    expect(dag.stages.find((s) => s.name === 'train')?.params).toEqual([
      { file: 'sub/params.yaml', keys: ['train.lr'] },
      { file: 'sub/extra.yaml', keys: ['seed'] }
    ])
    expect(dag.edges).toEqual([['prepare', 'train']])
  })
})
