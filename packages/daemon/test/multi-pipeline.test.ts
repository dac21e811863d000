import { execFileSync } from 'node:child_process'
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { candidateLockFiles } from '../src/pipeline/collect.js'
import { buildGraph, rootPath, selectStages, stagesOf } from '../src/pipeline/graph.js'
import { loadProjectPipeline, targetFromCwd } from '../src/pipeline/project-pipeline.js'
import { readDag, readParamsDiff } from '../src/pipeline/read-only.js'
import { loadPipeline } from '../src/pipeline/schema.js'
import { stageParams } from '../src/pipeline/params.js'

/** `${expr}` as a pipeline file writes it (kept out of template literals). */
const $ = (expr: string): string => '$' + `{${expr}}`

/** A project folder (a `.mlp` marker) holding `files`. */
async function project (files: Record<string, string>): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'mlp-multi-'))
  await mkdir(join(dir, '.mlp'))
  for (const [name, text] of Object.entries(files)) {
    await mkdir(join(dir, name, '..'), { recursive: true })
    await writeFile(join(dir, name), text)
  }
  return dir
}

function git (dir: string, ...args: string[]): void {
  execFileSync('git', ['-c', 'user.email=t@example.com', '-c', 'user.name=t', ...args], { cwd: dir, stdio: 'ignore' })
}

/** A git repository of `files`, all of them tracked except those in `untracked`. */
async function repo (files: Record<string, string>, untracked: string[] = []): Promise<string> {
  const dir = await project(files)
  git(dir, 'init', '-q')
  for (const f of Object.keys(files)) if (!untracked.includes(f)) git(dir, 'add', '-f', f)
  return dir
}

const ROOT = [
  'stages:',
  '  prepare:',
  '    cmd: mkdir -p data && echo x > data/prepared.txt',
  '    outs:',
  '      - data/prepared.txt'
].join('\n')

const TRAIN = [
  'vars:',
  '  - conf.yaml',
  'stages:',
  '  fit:',
  `    cmd: python fit.py --lr ${$('lr')} --tag ${$('tag')}`,
  '    deps:',
  '      - ../data/prepared.txt',
  '    params:',
  '      - lr',
  '    outs:',
  '      - model.bin',
  '  sweep:',
  '    foreach: [a, b]',
  '    do:',
  `      cmd: echo ${$('item')} > sweep-${$('item')}.txt`,
  '      deps: [model.bin]',
  '      outs:',
  `        - sweep-${$('item')}.txt`
].join('\n')

describe('several pipeline files form one DAG', () => {
  it('addresses, wdir, params.yaml and vars files per folder, and an edge across files', async () => {
    const dir = await repo({ 'dvc.yaml': ROOT, 'params.yaml': 'lr: 1\n', 'train/dvc.yaml': TRAIN, 'train/params.yaml': 'lr: 0.5\n', 'train/conf.yaml': 'tag: t1\n' })
    const p = loadProjectPipeline(dir)
    expect(p?.units.map((u) => u.rel)).toEqual(['dvc.yaml', 'train/dvc.yaml'])
    expect(p?.units.map((u) => u.lockFile)).toEqual([join(dir, 'mlp.lock'), join(dir, 'train', 'mlp.lock')])
    const stages = p?.stages ?? []
    expect(stages.map((s) => s.name)).toEqual(['prepare', 'train/dvc.yaml:fit', 'train/dvc.yaml:sweep@a', 'train/dvc.yaml:sweep@b'])
    const fit = stages[1]
    // wdir defaults to the file's folder: the command runs there, its paths are relative to it
    expect(fit.wdir).toBe('train')
    expect(fit.cmd).toEqual(['python fit.py --lr 0.5 --tag t1'])
    expect(fit.deps.map((d) => rootPath(fit, d))).toEqual(['data/prepared.txt'])
    expect(rootPath(fit, fit.outs[0].path)).toBe('train/model.bin')
    // params.yaml of the stage's folder, keyed relative to it as in DVC's dvc.lock
    expect(stageParams(dir, fit)).toEqual({ 'params.yaml': { lr: 0.5 } })
    const graph = buildGraph(stages, p?.file ?? '', dir)
    expect(graph.edges).toEqual([['prepare', 'train/dvc.yaml:fit'], ['train/dvc.yaml:fit', 'train/dvc.yaml:sweep@a'], ['train/dvc.yaml:fit', 'train/dvc.yaml:sweep@b']])
    expect(graph.order).toEqual(['prepare', 'train/dvc.yaml:fit', 'train/dvc.yaml:sweep@a', 'train/dvc.yaml:sweep@b'])
    // `mlp dag` from the subfolder sees the whole project, with DVC's addresses
    const dag = readDag(join(dir, 'train'))
    expect(dag.stages.map((s) => s.name)).toEqual(graph.order)
    expect(dag.stages[1].params).toEqual([{ file: 'train/params.yaml', keys: ['lr'] }])
    // `params diff` reads the subfolder's params file too
    const diff = await readParamsDiff(join(dir, 'train'))
    expect(diff.map((d) => d.file)).toContain('train/params.yaml')
  })

  const targets: Array<[string, string, string[]]> = [
    ['a root stage by name', 'prepare', ['prepare']],
    ['a root stage by its file', 'dvc.yaml:prepare', ['prepare']],
    ['every stage of the root file', 'dvc.yaml', ['prepare']],
    ['a subfolder stage', 'train/dvc.yaml:fit', ['train/dvc.yaml:fit']],
    ['a foreach group', 'train/dvc.yaml:sweep', ['train/dvc.yaml:sweep@a', 'train/dvc.yaml:sweep@b']],
    ['one foreach item', 'train/dvc.yaml:sweep@b', ['train/dvc.yaml:sweep@b']],
    ['every stage of a subfolder file', 'train/dvc.yaml', ['train/dvc.yaml:fit', 'train/dvc.yaml:sweep@a', 'train/dvc.yaml:sweep@b']],
    ['a subfolder stage by its bare name: not a root stage', 'fit', []]
  ]
  it.each(targets)('addresses %s (%s)', async (_, target, want) => {
    const dir = await repo({ 'dvc.yaml': ROOT, 'train/dvc.yaml': TRAIN, 'train/params.yaml': 'lr: 0.5\n', 'train/conf.yaml': 'tag: t1\n' })
    expect(stagesOf(loadProjectPipeline(dir)?.stages ?? [], target)).toEqual(want)
  })

  it('reads `dvc.yaml:stage` typed in a subfolder as that folder\'s file, as DVC does', () => {
    expect(targetFromCwd('/p', '/p/train', 'dvc.yaml:fit')).toBe('train/dvc.yaml:fit')
    expect(targetFromCwd('/p', '/p/train', 'dvc.yaml')).toBe('train/dvc.yaml')
    expect(targetFromCwd('/p', '/p/train', '../dvc.yaml:prepare')).toBe('dvc.yaml:prepare')
    expect(targetFromCwd('/p', '/p/train', 'prepare')).toBe('prepare')
  })

  it('selects across files: a subfolder stage pulls in the root stage upstream of it', async () => {
    const dir = await repo({ 'dvc.yaml': ROOT, 'train/dvc.yaml': TRAIN, 'train/params.yaml': 'lr: 0.5\n', 'train/conf.yaml': 'tag: t1\n' })
    const p = loadProjectPipeline(dir)
    const graph = buildGraph(p?.stages ?? [], p?.file ?? '', dir)
    expect([...selectStages(graph, ['train/dvc.yaml:fit'], false)].sort()).toEqual(['prepare', 'train/dvc.yaml:fit'])
    expect([...selectStages(graph, ['train/dvc.yaml:fit'], false, true)]).toEqual(['train/dvc.yaml:fit'])
  })

  const conflicts: Array<[string, string, RegExp]> = [
    ['the same out', 'stages:\n  again:\n    cmd: echo\n    outs: [../data/prepared.txt]\n', /dvc\.yaml:2: stage 'other\/dvc\.yaml:again': out 'data\/prepared\.txt' is also an out of stage 'prepare' \(.*\/dvc\.yaml:2\)$/],
    ['an out inside another out', 'stages:\n  inner:\n    cmd: echo\n    outs: [../data/prepared.txt/x]\n', /stage 'other\/dvc\.yaml:inner': out 'data\/prepared\.txt\/x' overlaps out 'data\/prepared\.txt' of stage 'prepare' \(.*\/dvc\.yaml:2\)$/]
  ]
  it.each(conflicts)('refuses two files that write %s, naming both stages and files in one line', async (_, other, message) => {
    const dir = await repo({ 'dvc.yaml': ROOT, 'other/dvc.yaml': other })
    const p = loadProjectPipeline(dir)
    let err: Error | undefined
    try { buildGraph(p?.stages ?? [], p?.file ?? '', dir) } catch (e) { err = e as Error }
    expect(err?.name).toBe('PipelineFileError')
    expect(err?.message).toMatch(message)
    expect(err?.message).toContain(join(dir, 'other', 'dvc.yaml'))
    expect(err?.message.includes('\n')).toBe(false)
  })

  it('lets a subfolder stage climb with wdir but never out of the project', async () => {
    const ok = await repo({ 'sub/dvc.yaml': 'stages:\n  s:\n    wdir: ..\n    cmd: echo\n    outs: [top.txt]\n' })
    const s = loadProjectPipeline(ok)?.stages[0]
    expect(s?.wdir).toBe('.')
    expect(s != null && rootPath(s, s.outs[0].path)).toBe('top.txt')
    const bad = await repo({ 'sub/dvc.yaml': 'stages:\n  s:\n    wdir: ../..\n    cmd: echo\n' })
    expect(() => loadProjectPipeline(bad)).toThrow(/stage 'sub\/dvc\.yaml:s': 'wdir' must stay inside the project/)
    const dep = await repo({ 'sub/dvc.yaml': 'stages:\n  s:\n    cmd: echo\n    deps: [../../x]\n' })
    expect(() => loadProjectPipeline(dep)).toThrow(/path '\.\.\/\.\.\/x' must stay inside the project/)
  })

  // a file that would write a marker: loaded only when git tracks it outside every out
  const EVIL = 'stages:\n  evil:\n    cmd: touch ../pwned\n'
  const placements: Array<[string, Record<string, string>, string[], boolean]> = [
    ['tracked, outside outs (positive control)', { 'dvc.yaml': ROOT, 'tools/dvc.yaml': EVIL }, [], true],
    ['untracked folder', { 'dvc.yaml': ROOT, 'tools/dvc.yaml': EVIL }, ['tools/dvc.yaml'], false],
    ['inside a stage out, even force-added to git', { 'dvc.yaml': ROOT.replace('      - data/prepared.txt', '      - data'), 'data/dvc.yaml': EVIL }, [], false],
    ['inside an out of a subfolder file', { 'gen/dvc.yaml': 'stages:\n  g:\n    cmd: echo\n    outs: [out]\n', 'gen/out/dvc.yaml': EVIL }, [], false],
    ['inside a folder a .dvc pointer tracks', { 'dvc.yaml': ROOT, 'raw.dvc': 'outs:\n- md5: 0.dir\n  path: raw\n', 'raw/dvc.yaml': EVIL }, [], false],
    ['inside a folder a .mlp pointer tracks', { 'dvc.yaml': ROOT, 'raw.mlp': 'outs: []\n', 'raw/dvc.yaml': EVIL }, [], false]
  ]
  it.each(placements)('a dvc.yaml %s', async (_, files, untracked, loaded) => {
    const dir = await repo(files, untracked)
    const names = loadProjectPipeline(dir)?.stages.map((s) => s.name) ?? []
    expect(names.some((n) => n.endsWith(':evil'))).toBe(loaded)
    // the other files are read either way
    expect(names.length).toBeGreaterThan(loaded ? 1 : 0)
  })

  it('reads only the root file outside a git repository', async () => {
    const dir = await project({ 'dvc.yaml': ROOT, 'train/dvc.yaml': TRAIN })
    expect(loadProjectPipeline(dir)?.stages.map((s) => s.name)).toEqual(['prepare'])
  })

  it('keeps one file per folder, mlp.yaml before dvc.yaml (they would share one mlp.lock)', async () => {
    const dir = await repo({ 'train/mlp.yaml': 'stages:\n  m:\n    cmd: echo\n', 'train/dvc.yaml': 'stages:\n  d:\n    cmd: echo\n' })
    expect(loadProjectPipeline(dir)?.stages.map((s) => s.name)).toEqual(['train/mlp.yaml:m'])
    expect(loadProjectPipeline(dir)?.units.map((u) => u.lockFile)).toEqual([join(dir, 'train', 'mlp.lock')])
  })

  it('with one file, reads exactly what loadPipeline reads', async () => {
    const dir = await repo({ 'dvc.yaml': ROOT, 'params.yaml': 'lr: 1\n' })
    const p = loadProjectPipeline(dir)
    expect(p?.units.length).toBe(1)
    expect(p?.stages).toEqual(loadPipeline(join(dir, 'dvc.yaml')).stages)
    expect(p?.stages[0].file).toBeUndefined()
  })

  it('has no pipeline without files', async () => {
    const dir = await repo({ 'README.md': 'hi\n' })
    expect(loadProjectPipeline(dir)).toBeUndefined()
  })
})

describe('lock files for gc', () => {
  it('lists the mlp.lock beside each pipeline file git tracks, without parsing them', async () => {
    const dir = await repo({ 'mlp.lock': 'schema: \'2.0\'\nstages: {}\n', 'dvc.yaml': ROOT, 'train/dvc.yaml': 'not: [valid', 'train/mlp.lock': 'schema: \'2.0\'\nstages: {}\n', 'loose/dvc.yaml': ROOT, 'loose/mlp.lock': '' }, ['loose/dvc.yaml'])
    expect(candidateLockFiles(dir)).toEqual([join(dir, 'mlp.lock'), join(dir, 'train', 'mlp.lock')])
  })
})
