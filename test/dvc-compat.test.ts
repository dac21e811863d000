import { execFileSync } from 'node:child_process'
import { rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { mlp, mlpJson } from './helpers/cli.js'
import { DaemonPool, type TestDaemon } from './helpers/daemons.js'
import { newProject } from './helpers/project.js'

const pool = new DaemonPool()
let d: TestDaemon
beforeAll(async () => { d = await pool.start() })
afterAll(async () => { await pool.cleanup() })

interface Outcome { stage: string, status: string, reasons: string[] }
const statuses = (o: Outcome[]): Record<string, string> => Object.fromEntries(o.map((x) => [x.stage, x.status]))

/** `${expr}` as a pipeline file writes it (kept out of template literals). */
const $ = (expr: string): string => '$' + `{${expr}}`

// shaped like DVC's example project: the metrics file lives inside the
// evaluate stage's cached out folder and is named only by the top-level
// `metrics:` list; a params file is named only by the top-level `params:`
const DVC_YAML = [
  'params:',
  '  - extra.yaml',
  'metrics:',
  '  - eval/metrics.json',
  'plots:',
  '  - eval/plots.json:',
  '      x: step',
  'stages:',
  '  prepare:',
  '    cmd: cp data.csv prepared.csv',
  '    deps: [data.csv]',
  '    outs: [prepared.csv]',
  '  train:',
  `    cmd: cat prepared.csv > model.txt && echo ${$('train.lr')} >> model.txt`,
  '    deps: [prepared.csv]',
  '    params: [train.lr]',
  '    outs: [model.txt]',
  '  evaluate:',
  '    cmd: \'mkdir -p eval && echo "{\\"lr\\": $(tail -n 1 model.txt)}" > eval/metrics.json\'',
  '    deps: [model.txt]',
  '    outs: [eval]',
  ''
].join('\n')

function commit (proj: string, message: string): void {
  execFileSync('git', ['add', '-A'], { cwd: proj })
  execFileSync('git', ['-c', 'user.email=t@t', '-c', 'user.name=t', 'commit', '-qm', message], { cwd: proj })
}

describe('a DVC example-like project', () => {
  it('repro --dry lists every stage, marking a dep nobody provides; metrics and params come from the top-level lists', async () => {
    const proj = await newProject(d.home)
    writeFileSync(join(proj, 'dvc.yaml'), DVC_YAML)
    writeFileSync(join(proj, 'params.yaml'), 'train:\n  lr: 0.1\n')
    writeFileSync(join(proj, 'extra.yaml'), 'seed: 1\n')

    // data.csv is missing: a dry run still lists all three stages
    const dry = await mlpJson<Outcome[]>(d.home, ['repro', '--dry'], { cwd: proj })
    expect(statuses(dry)).toEqual({ prepare: 'would-run', train: 'would-run', evaluate: 'would-run' })
    expect(dry[0].reasons).toContain('dep missing and no stage writes it: data.csv')
    expect(dry[1].reasons).toContain('upstream would run: prepare')
    const dryText = await mlp(d.home, ['repro', '--dry'], { cwd: proj })
    expect(dryText.code, dryText.stdout + dryText.stderr).toBe(0)
    expect(dryText.stdout).toContain('would run prepare (never ran, dep missing and no stage writes it: data.csv)')
    expect(dryText.stdout).toContain('would run evaluate')
    // control: a real run still refuses, in one line, and runs nothing
    const real = await mlp(d.home, ['repro'], { cwd: proj })
    expect(real.code).not.toBe(0)
    expect(real.stderr).toContain("dep 'data.csv' does not exist and no stage writes it")
    expect(statuses(await mlpJson<Outcome[]>(d.home, ['repro', '--dry'], { cwd: proj })).prepare).toBe('would-run')

    // before any run: the top-level metrics file does not exist yet
    expect(await mlpJson(d.home, ['metrics', 'show'], { cwd: proj })).toEqual([])

    writeFileSync(join(proj, 'data.csv'), 'a,b\n1,2\n')
    const first = await mlpJson<Outcome[]>(d.home, ['repro'], { cwd: proj })
    expect(statuses(first)).toEqual({ prepare: 'ran', train: 'ran', evaluate: 'ran' })

    // metrics show reads the file named only at the top level
    expect(await mlpJson(d.home, ['metrics', 'show'], { cwd: proj })).toEqual([{ file: 'eval/metrics.json', key: 'lr', value: 0.1 }])
    const shown = await mlp(d.home, ['metrics', 'show'], { cwd: proj })
    expect(shown.stdout).toContain('eval/metrics.json')
    expect(shown.stdout).not.toContain('no metrics yet')

    commit(proj, 'v1')
    const same = await mlp(d.home, ['metrics', 'diff'], { cwd: proj })
    expect(same.stdout).toContain('metrics are the same as in HEAD')

    // a param change: the dry run names train and, through it, evaluate
    writeFileSync(join(proj, 'params.yaml'), 'train:\n  lr: 0.2\n')
    writeFileSync(join(proj, 'extra.yaml'), 'seed: 2\n')
    const dry2 = await mlpJson<Outcome[]>(d.home, ['repro', '--dry'], { cwd: proj })
    expect(statuses(dry2)).toEqual({ prepare: 'skipped', train: 'would-run', evaluate: 'would-run' })
    expect(dry2[2].reasons).toEqual(['upstream would run: train'])

    // params diff includes the file only the top-level list names
    expect(await mlpJson(d.home, ['params', 'diff'], { cwd: proj })).toEqual([
      { file: 'extra.yaml', key: 'seed', old: 1, new: 2 },
      { file: 'params.yaml', key: 'train.lr', old: 0.1, new: 0.2 }
    ])

    const second = await mlpJson<Outcome[]>(d.home, ['repro'], { cwd: proj })
    expect(statuses(second)).toEqual({ prepare: 'skipped', train: 'ran', evaluate: 'ran' })
    // the old value comes from the cached eval folder HEAD's lock names
    expect(await mlpJson(d.home, ['metrics', 'diff'], { cwd: proj })).toEqual([{ file: 'eval/metrics.json', key: 'lr', old: 0.1, new: 0.2 }])
    const diffText = await mlp(d.home, ['metrics', 'diff'], { cwd: proj })
    expect(diffText.stdout).toContain('eval/metrics.json')
    expect(diffText.stdout).not.toContain('metrics are the same')
  })

  it('dag --json gives each stage its params', async () => {
    const proj = await newProject(d.home)
    writeFileSync(join(proj, 'dvc.yaml'), DVC_YAML)
    writeFileSync(join(proj, 'params.yaml'), 'train:\n  lr: 0.1\n')
    const dag = await mlpJson<{ stages: Array<{ name: string, params: unknown }>, edges: Array<[string, string]> }>(d.home, ['dag'], { cwd: proj })
    expect(dag.stages.map((s) => [s.name, s.params])).toEqual([
      ['prepare', []],
      ['train', [{ file: 'params.yaml', keys: ['train.lr'] }]],
      ['evaluate', []]
    ])
    expect(dag.edges).toEqual([['prepare', 'train'], ['train', 'evaluate']])
  })

  it('a bad top-level metrics entry is a one-line error naming the file, and changes nothing', async () => {
    const proj = await newProject(d.home)
    writeFileSync(join(proj, 'params.yaml'), 'train:\n  lr: 0.1\n')
    writeFileSync(join(proj, 'dvc.yaml'), DVC_YAML.replace('  - eval/metrics.json', '  - ../outside.json'))
    const r = await mlp(d.home, ['metrics', 'show'], { cwd: proj })
    expect(r.code).not.toBe(0)
    expect(r.stderr).toContain("path '../outside.json' must stay inside the project")
    // control: the good file is read
    rmSync(join(proj, 'dvc.yaml'))
    writeFileSync(join(proj, 'dvc.yaml'), DVC_YAML)
    expect((await mlp(d.home, ['metrics', 'show'], { cwd: proj })).code).toBe(0)
  })
})
