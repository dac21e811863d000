import { symlink, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { loadProjectPipeline, type ProjectPipeline } from '../src/pipeline/project-pipeline.js'
import { declaredPlots } from '../src/plots/declarations.js'
// the render worker runs compiled JavaScript: draw with the built module (npm test builds first)
import { drawPlots } from '../dist/plots/draw.js'
import { plotsHtml } from '../src/plots/html.js'
import type { Store } from '../dist/store/index.js'
import { git, project } from './helpers/pipeline-project.js'

// git-tracked data only: these never reach the store
const NO_STORE = { store: {} as unknown as Store }

const PIPELINE = [
  'plots:',
  '  - eval/roc.json:',
  '      x: fpr',
  '      y: tpr',
  '      title: ROC',
  '  - confusion:',
  '      template: confusion',
  '      x: actual',
  '      y:',
  '        eval/preds.csv: predicted',
  '  - both:',
  '      x: step',
  '      y:',
  '        train.csv: loss',
  '        test.csv: [loss, acc]',
  'stages:',
  '  train:',
  '    cmd: python train.py',
  '    plots:',
  '      - train.csv:',
  '          x: step',
  '          y: loss',
  '          template: smooth',
  '      - eval/roc.json',
  '      - curve.png',
  ''
].join('\n')

function pipelineOf (dir: string): ProjectPipeline {
  const p = loadProjectPipeline(dir)
  if (p == null) throw new Error('no pipeline')
  return p
}

describe('declared plots', () => {
  it("reads DVC's schema: stage plot outs with options, top-level files and ids, y mappings, images skipped", async () => {
    const dir = await project({ 'dvc.yaml': PIPELINE })
    const { plots, skipped } = declaredPlots(dir, pipelineOf(dir))
    expect(plots.map((p) => [p.id, p.template, p.title])).toEqual([
      ['train.csv', 'smooth', 'train.csv'],
      // the top-level entry replaces the stage's bare eval/roc.json
      ['eval/roc.json', 'linear', 'ROC'],
      ['confusion', 'confusion', 'confusion'],
      ['both', 'linear', 'both']
    ])
    expect(plots[1].series).toEqual([{ file: 'eval/roc.json', y: 'tpr', x: { file: 'eval/roc.json', field: 'fpr' } }])
    expect(plots[2].series).toEqual([{ file: 'eval/preds.csv', y: 'predicted', x: { file: 'eval/preds.csv', field: 'actual' } }])
    expect(plots[3].series.map((s) => `${s.file}:${s.y ?? ''}`)).toEqual(['train.csv:loss', 'test.csv:loss', 'test.csv:acc'])
    expect(skipped.map((s) => s.id)).toEqual(['curve.png'])
  })

  it.each([
    ['plots:\n  - a.csv:\n      colour: red\n', "plot 'a.csv': unknown key 'colour'"],
    ['plots:\n  - a.csv:\n      template: pie\n', 'unknown template "pie"'],
    ['plots:\n  - p:\n      y: {../../etc/passwd.csv: a}\n', "plot path '../../etc/passwd.csv' must name a file inside the project"],
    ['plots:\n  - data.bin\n', "'data.bin' is not a CSV, TSV, JSON or YAML file"],
    ['plots:\n  - p:\n      x: {a.csv: s, b.csv: t}\n      y: {c.csv: v}\n', "'x' names no field for 'c.csv'"]
  ])('refuses %j', async (yaml, message) => {
    const dir = await project({ 'dvc.yaml': yaml + 'stages:\n  s:\n    cmd: echo\n' })
    expect(() => declaredPlots(dir, pipelineOf(dir))).toThrow(message)
    // control: the same project without the bad plot has no plot problem
    const ok = await project({ 'dvc.yaml': 'plots:\n  - a.csv\nstages:\n  s:\n    cmd: echo\n' })
    expect(declaredPlots(ok, pipelineOf(ok)).plots.map((p) => p.id)).toEqual(['a.csv'])
  })
})

describe('plot folders', () => {
  it('a folder (as DVCLive writes) is a plot per data file below it, with its options', async () => {
    const dir = await project({
      'dvc.yaml': 'plots:\n  - dvclive/plots/metrics:\n      x: step\nstages:\n  s:\n    cmd: echo\n',
      'dvclive/plots/metrics/train/loss.tsv': 'step\tloss\n0\t1\n',
      'dvclive/plots/metrics/eval/acc.tsv': 'step\tacc\n0\t0.5\n',
      'dvclive/plots/metrics/notes.txt': 'not data'
    })
    const { plots } = declaredPlots(dir, pipelineOf(dir))
    expect(plots.map((p) => [p.id, p.series[0].x?.field])).toEqual([['dvclive/plots/metrics/eval/acc.tsv', 'step'], ['dvclive/plots/metrics/train/loss.tsv', 'step']])
    // a target naming the folder draws its files
    const drawn = await drawPlots(NO_STORE, dir, { targets: ['dvclive/plots'] })
    expect(drawn.plots.map((p) => p.id)).toEqual(['dvclive/plots/metrics/eval/acc.tsv', 'dvclive/plots/metrics/train/loss.tsv'])
  })
})

describe('drawPlots', () => {
  it('refuses data behind a symlink out of the project, over the size cap or over the point cap; a plain file draws', async () => {
    const outside = join(await project({ 'secret.csv': 'a,b\n1,2\n' }), 'secret.csv')
    const dir = await project({ 'dvc.yaml': 'plots:\n  - d.csv\nstages:\n  s:\n    cmd: echo\n' })
    await symlink(outside, join(dir, 'd.csv'))
    await expect(drawPlots(NO_STORE, dir)).rejects.toThrow('plot data "d.csv" leads outside the project')
    await writeFile(join(dir, 'big.csv'), 'a,b\n' + '1,2\n'.repeat(4.3 * 1024 * 1024))
    await expect(drawPlots(NO_STORE, dir, { targets: ['big.csv'] })).rejects.toThrow('big.csv at workspace: 17.2 MiB, over the 16 MiB mlp reads in a plot data file')
    await writeFile(join(dir, 'long.csv'), 'a,b\n' + '1,2\n'.repeat(50_001))
    await expect(drawPlots(NO_STORE, dir, { targets: ['long.csv'] })).rejects.toThrow('over 50000 data points: mlp draws at most that many in one plot')
    // control: a file of the same shape within the caps draws
    await writeFile(join(dir, 'ok.csv'), 'a,b\n' + '1,2\n'.repeat(5_000))
    expect((await drawPlots(NO_STORE, dir, { targets: ['ok.csv'] })).plots.map((p) => p.id)).toEqual(['ok.csv'])
  })

  it('overlays a commit (from git) and the workspace, and names a bad field, a bad value and a bad revision', async () => {
    const dir = await project({
      'dvc.yaml': 'plots:\n  - loss.csv:\n      x: step\n      y: loss\nstages:\n  s:\n    cmd: echo\n',
      'loss.csv': 'step,loss\n1,0.9\n2,0.5\n'
    })
    git(dir, 'init', '-q')
    git(dir, 'add', '.')
    git(dir, 'commit', '-qm', 'one')
    await writeFile(join(dir, 'loss.csv'), 'step,loss\n1,0.8\n2,0.3\n3,0.1\n')
    const drawn = await drawPlots(NO_STORE, dir, { revisions: ['HEAD', 'workspace'] })
    expect(drawn.revisions.map((r) => r.rev)).toEqual(['HEAD', 'workspace'])
    expect(drawn.revisions[0].commit).toMatch(/^[0-9a-f]{40}$/)
    expect(drawn.plots).toHaveLength(1)
    // the legend names both revisions
    expect(drawn.plots[0].svg).toContain('>HEAD</text>')
    expect(drawn.plots[0].svg).toContain('>workspace</text>')

    await writeFile(join(dir, 'loss.csv'), 'step,accuracy\n1,0.8\n')
    await expect(drawPlots(NO_STORE, dir)).rejects.toThrow("field 'loss' is not in loss.csv at workspace (its fields: 'step', 'accuracy')")
    await writeFile(join(dir, 'loss.csv'), 'step,loss\n1,0.8\n2,high\n')
    await expect(drawPlots(NO_STORE, dir)).rejects.toThrow("loss.csv at workspace, record 2: 'loss' is \"high\", not a number")
    await expect(drawPlots(NO_STORE, dir, { revisions: ['no-such-branch'] })).rejects.toThrow('unknown revision "no-such-branch"')
    await expect(drawPlots(NO_STORE, dir, { targets: ['nope'] })).rejects.toThrow("no plot 'nope': the plots are loss.csv")
  })

  it('a plot added since a commit draws the revisions that have its data and lists the one that lacks it; none at all is an error', async () => {
    const dir = await project({ 'dvc.yaml': 'stages:\n  s:\n    cmd: echo\n' })
    git(dir, 'init', '-q')
    git(dir, 'add', '.')
    git(dir, 'commit', '-qm', 'no plots yet')
    // nothing declared: nothing drawn, no error (the report's case)
    expect((await drawPlots(NO_STORE, dir, { revisions: ['HEAD', 'workspace'] })).plots).toEqual([])
    await writeFile(join(dir, 'dvc.yaml'), 'plots:\n  - new.csv\nstages:\n  s:\n    cmd: echo\n')
    await writeFile(join(dir, 'new.csv'), 'step,acc\n1,0.5\n2,0.7\n')
    const drawn = await drawPlots(NO_STORE, dir, { revisions: [{ rev: 'HEAD', label: 'base' }, { rev: 'workspace', label: 'head' }] })
    expect(drawn.plots.map((p) => p.id)).toEqual(['new.csv'])
    expect(drawn.absent).toEqual([{ id: 'new.csv', rev: 'base', file: 'new.csv' }])
    expect(drawn.plots[0].svg).not.toContain('>base</text>')
    await expect(drawPlots(NO_STORE, dir, { revisions: ['HEAD'] })).rejects.toThrow('new.csv at HEAD: no such file: git does not hold it')
  })

  it('escapes ids and titles in the page, and Vega escapes what it draws', async () => {
    const evil = '</script><script>alert(1)</script><img src=x onerror=alert(2)>'
    const dir = await project({
      'dvc.yaml': `plots:\n  - p.json:\n      title: ${JSON.stringify(evil)}\n      y: ${JSON.stringify(evil)}\nstages:\n  s:\n    cmd: echo\n`,
      'p.json': JSON.stringify([{ [evil]: 1 }, { [evil]: 2 }])
    })
    const drawn = await drawPlots(NO_STORE, dir)
    const html = plotsHtml(drawn)
    expect(html).not.toMatch(/<script|<img/i)
    expect(html).toContain('&lt;/script&gt;')
    // control: the title is on the page, escaped
    expect(drawn.plots[0].title).toBe(evil)
  })
})
