import { mkdir, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { CID } from 'multiformats/cid'
import { describe, expect, it } from 'vitest'
import { candidateLockFiles } from '../src/pipeline/collect.js'
import { buildGraph, rootPath, selectStages, stagesOf } from '../src/pipeline/graph.js'
import { loadProjectPipeline, stageTargetFromCwd, targetFromCwd } from '../src/pipeline/project-pipeline.js'
import { addStage } from '../src/pipeline/stage-add.js'
import { stageOutsOf, type TrackedOut } from '../src/tracking/targets.js'
import { findProject } from '../src/tracking/project.js'
import { readDag, readParamsDiff } from '../src/pipeline/read-only.js'
import { loadPipeline } from '../src/pipeline/schema.js'
import { reservedPathProblem } from '../src/pipeline/reserved-paths.js'
import { stageParams } from '../src/pipeline/params.js'
import { $, git, project } from './helpers/pipeline-project.js'

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

describe('a bare stage name is a stage of the current folder\'s pipeline file, as in DVC', () => {
  const files = { 'dvc.yaml': ROOT, 'train/dvc.yaml': TRAIN, 'train/params.yaml': 'lr: 0.5\n', 'train/conf.yaml': 'tag: t1\n', 'train/sub/x.txt': '' }
  const resolved: Array<[string, string, string, string]> = [
    ['in a subfolder, its file\'s stage', 'train', 'fit', 'train/dvc.yaml:fit'],
    ['in a subfolder, its file\'s foreach group', 'train', 'sweep', 'train/dvc.yaml:sweep'],
    ['at the root, the root file\'s stage', '', 'prepare', 'prepare'],
    ['in a subfolder, `dvc.yaml:stage` is its own file', 'train', 'dvc.yaml:fit', 'train/dvc.yaml:fit'],
    ['at the root, a subfolder stage by its address', '', 'train/dvc.yaml:fit', 'train/dvc.yaml:fit'],
    ['below a subfolder, the address a hint suggests there', 'train/sub', '../dvc.yaml:fit', 'train/dvc.yaml:fit'],
    ['in a subfolder, the root stage by its relative file', 'train', '../dvc.yaml:prepare', 'dvc.yaml:prepare']
  ]
  it.each(resolved)('%s', async (_, folder, target, want) => {
    const dir = await repo(files)
    const p = loadProjectPipeline(dir)
    if (p == null) throw new Error('no pipeline')
    const address = stageTargetFromCwd(p, dir, join(dir, folder), target)
    expect(address).toBe(want)
    // what the stage lookup then selects is that file's stage
    expect(stagesOf(p.stages, address).length).toBeGreaterThan(0)
  })

  const refused: Array<[string, string, string, string]> = [
    ['at the root, a subfolder\'s stage', '', 'fit', "no stage 'fit' in dvc.yaml here; did you mean train/dvc.yaml:fit?"],
    ['in a subfolder, the root file\'s stage', 'train', 'prepare', "no stage 'prepare' in dvc.yaml here; did you mean ../dvc.yaml:prepare?"],
    ['in a folder without a pipeline file, a parent folder\'s stage', 'train/sub', 'fit', "no stage 'fit' here: this folder has no dvc.yaml or mlp.yaml; did you mean ../dvc.yaml:fit?"],
    ['a name no file has', 'train', 'nope', "no stage 'nope' in dvc.yaml here; see `mlp dag` for the stages"]
  ]
  it.each(refused)('refuses %s in one line naming the addresses that have it', async (_, folder, target, message) => {
    const dir = await repo(files)
    const p = loadProjectPipeline(dir)
    if (p == null) throw new Error('no pipeline')
    let err: Error | undefined
    try { stageTargetFromCwd(p, dir, join(dir, folder), target) } catch (e) { err = e as Error }
    expect(err?.name).toBe('PipelineFileError')
    expect(err?.message).toBe(message)
  })

  it('names stage outs for checkout, pull, push and status the same way', () => {
    const cid = CID.parse('bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy')
    const outs: TrackedOut[] = [
      { abs: '/p/data/prepared.txt', cid, source: '/p/mlp.lock', stage: 'prepare' },
      { abs: '/p/train/model.bin', cid, source: '/p/train/mlp.lock', stage: 'train/dvc.yaml:fit' },
      { abs: '/p/train/sweep-a.txt', cid, source: '/p/train/mlp.lock', stage: 'train/dvc.yaml:sweep@a' }
    ]
    const abs = (cwd: string, t: string): string[] => stageOutsOf('/p', cwd, t, outs).outs.map((o) => o.abs)
    expect(abs('/p/train', 'fit')).toEqual(['/p/train/model.bin'])
    expect(abs('/p/train', 'sweep')).toEqual(['/p/train/sweep-a.txt'])
    expect(abs('/p/train', 'dvc.yaml')).toEqual(['/p/train/model.bin', '/p/train/sweep-a.txt'])
    expect(abs('/p/train', '../dvc.yaml:prepare')).toEqual(['/p/data/prepared.txt'])
    expect(abs('/p', 'prepare')).toEqual(['/p/data/prepared.txt'])
    expect(abs('/p', 'train/dvc.yaml:fit')).toEqual(['/p/train/model.bin'])
    // at the root `fit` is no stage: left to be read as a path, with the address that has it for the error
    expect(stageOutsOf('/p', '/p', 'fit', outs)).toEqual({ outs: [], hint: 'did you mean train/dvc.yaml:fit?' })
  })
})

describe('stage add writes the pipeline file of the current folder', () => {
  const files = { 'dvc.yaml': ROOT, 'train/dvc.yaml': TRAIN, 'train/params.yaml': 'lr: 0.5\n', 'train/conf.yaml': 'tag: t1\n' }

  it('adds to the folder\'s own file, paths as typed, checked against the whole project', async () => {
    const dir = await repo(files)
    const r = await addStage(dir, join(dir, 'train'), { name: 'score', cmd: 'cat model.bin > score.txt', deps: ['model.bin'], outs: ['score.txt'] })
    expect(r).toEqual({ file: join(dir, 'train', 'dvc.yaml'), stage: 'score', address: 'train/dvc.yaml:score' })
    const p = loadProjectPipeline(dir)
    const score = p?.stages.find((s) => s.name === 'train/dvc.yaml:score')
    expect(score?.deps).toEqual(['model.bin'])
    expect(score != null && rootPath(score, score.outs[0].path)).toBe('train/score.txt')
    expect(buildGraph(p?.stages ?? [], p?.file ?? '').edges).toContainEqual(['train/dvc.yaml:fit', 'train/dvc.yaml:score'])
  })

  it('creates mlp.yaml in a folder without a pipeline file, and says git does not track it yet', async () => {
    const dir = await repo(files)
    await mkdir(join(dir, 'eval'))
    const r = await addStage(dir, join(dir, 'eval'), { name: 'report', cmd: 'echo', deps: ['../train/model.bin'], outs: ['report.txt'] })
    expect(r).toEqual({ file: join(dir, 'eval', 'mlp.yaml'), stage: 'report', address: 'eval/mlp.yaml:report', untracked: 'eval/mlp.yaml' })
    expect(await readFile(join(dir, 'eval', 'mlp.yaml'), 'utf8')).toContain('- ../train/model.bin')
  })

  it('refuses an out another file\'s stage writes, in one line, writing nothing', async () => {
    const dir = await repo(files)
    await mkdir(join(dir, 'eval'))
    let err: Error | undefined
    try { await addStage(dir, join(dir, 'eval'), { name: 'again', cmd: 'echo', outs: ['../data/prepared.txt'] }) } catch (e) { err = e as Error }
    expect(err?.name).toBe('PipelineFileError')
    expect(err?.message).toMatch(/eval\/mlp\.yaml:\d+: stage 'eval\/mlp\.yaml:again': out 'data\/prepared\.txt' is also an out of stage 'prepare' \(.*\/dvc\.yaml:2\)$/)
    expect(err?.message).not.toContain('check.yaml')
    expect(await readdir(join(dir, 'eval'))).toEqual([])
    // and one in an existing file: that file is left as it was
    const before = await readFile(join(dir, 'train', 'dvc.yaml'), 'utf8')
    await expect(addStage(dir, join(dir, 'train'), { name: 'again', cmd: 'echo', outs: ['model.bin'] })).rejects.toThrow(/out 'train\/model\.bin' is also an out of stage 'train\/dvc\.yaml:fit'/)
    expect(await readFile(join(dir, 'train', 'dvc.yaml'), 'utf8')).toBe(before)
    expect((await readdir(join(dir, 'train'))).sort()).toEqual(['conf.yaml', 'dvc.yaml', 'params.yaml'])
  })

  it('refuses a folder inside a stage out: a pipeline file there is never read', async () => {
    const dir = await repo(files)
    await mkdir(join(dir, 'data', 'prepared.txt'), { recursive: true })
    await expect(addStage(dir, join(dir, 'data', 'prepared.txt'), { name: 'x', cmd: 'echo' })).rejects.toThrow("cannot add a stage to data/prepared.txt/mlp.yaml: it is inside the out 'data/prepared.txt', so mlp never reads a pipeline file there")
    expect(await readdir(join(dir, 'data', 'prepared.txt'))).toEqual([])
  })
})

describe('pipeline files reached through symlinks, and datasets that carry a .mlp', () => {
  const EVIL_FILE = 'stages:\n  evil:\n    cmd: touch pwned\n'

  it('refuses a tracked pipeline file that is a symlink, in a subfolder or at the root; reads the same file when regular', async () => {
    const dir = await repo({ 'data/raw/dvc.yaml': EVIL_FILE, 'data/raw.mlp': 'outs: []\n' })
    await mkdir(join(dir, 'sub'))
    await symlink('../data/raw/dvc.yaml', join(dir, 'sub', 'dvc.yaml'))
    git(dir, 'add', 'sub/dvc.yaml')
    expect(() => loadProjectPipeline(dir)).toThrow(/sub\/dvc\.yaml is a symlink; mlp reads only a regular file as a pipeline file/)
    await symlink('data/raw/dvc.yaml', join(dir, 'dvc.yaml'))
    expect(() => loadProjectPipeline(dir)).toThrow(/\/dvc\.yaml is a symlink/)
    // positive control: the same text as regular files is read, the root's and the subfolder's
    await rm(join(dir, 'dvc.yaml'))
    await rm(join(dir, 'sub', 'dvc.yaml'))
    await writeFile(join(dir, 'sub', 'dvc.yaml'), EVIL_FILE)
    await writeFile(join(dir, 'dvc.yaml'), 'stages:\n  top:\n    cmd: echo top\n')
    expect(loadProjectPipeline(dir)?.stages.map((s) => s.name)).toEqual(['top', 'sub/dvc.yaml:evil'])
  })

  it('refuses a tracked pipeline file whose folder is now a symlink into data; reads it in a real folder', async () => {
    const dir = await repo({ 'sub/dvc.yaml': 'stages:\n  ok:\n    cmd: echo ok\n', 'data/raw/dvc.yaml': EVIL_FILE }, ['data/raw/dvc.yaml'])
    expect(loadProjectPipeline(dir)?.stages.map((s) => s.name)).toEqual(['sub/dvc.yaml:ok'])
    // the tracked folder swapped for a link to a dataset: git still lists sub/dvc.yaml
    await rm(join(dir, 'sub'), { recursive: true })
    await symlink('data/raw', join(dir, 'sub'))
    expect(() => loadProjectPipeline(dir)).toThrow(/lies in a folder reached through a symlink \('sub'\)/)
    // gc's list of lock files leaves it out rather than stopping
    expect(candidateLockFiles(dir)).toEqual([])
  })

  it('never takes a .mlp inside a pointer-tracked or untracked folder for a project root', async () => {
    const dir = await repo({ 'dvc.yaml': 'stages:\n  top:\n    cmd: echo top\n', '.mlp/config.yaml': '', 'data/raw.mlp': 'outs: []\n', 'data/raw/.mlp/config.yaml': '', 'data/raw/dvc.yaml': EVIL_FILE }, ['data/raw/.mlp/config.yaml', 'data/raw/dvc.yaml'])
    expect(findProject(join(dir, 'data', 'raw'))).toBe(dir)
    // only a pointer file says it is data: still not a root outside git
    const plain = await project({ '.mlp/config.yaml': '', 'data/raw.mlp': 'outs: []\n', 'data/raw/.mlp/config.yaml': '' })
    expect(findProject(join(plain, 'data', 'raw'))).toBe(plain)
    // untracked by git, no pointer file: still not a root
    await rm(join(dir, 'data', 'raw.mlp'))
    expect(findProject(join(dir, 'data', 'raw'))).toBe(dir)
    // positive control: a project committed in a subfolder of the repository (a monorepo) is its own root
    git(dir, 'add', '-f', 'data/raw/.mlp/config.yaml')
    expect(findProject(join(dir, 'data', 'raw'))).toBe(join(dir, 'data', 'raw'))
  })
})

describe('a pipeline or lock file is never data', () => {
  it('names pipeline and lock files anywhere, and .mlp/ contents, as reserved; other paths are not', () => {
    for (const p of ['mlp.yaml', 'dvc.yaml', 'mlp.lock', 'dvc.lock', 'a/b/dvc.yaml', 'sub\\mlp.lock', 'MLP.YAML', './dvc.yaml']) expect(reservedPathProblem(p), p).toMatch(/is a pipeline or lock file/)
    expect(reservedPathProblem('.mlp/config.yaml')).toMatch(/inside \.mlp\//)
    // positive controls: data, a folder that merely contains one, look-alike names
    for (const p of ['data.csv', 'ds', 'mlp.yaml.bak', 'dvc.yaml.mlp', 'my-dvc.yaml', 'dvc.yaml/x', 'sub/.mlp/x']) expect(reservedPathProblem(p), p).toBeUndefined()
  })

  it('refuses a stage out that is a pipeline or lock file, after wdir, naming the stage; an ordinary out loads', async () => {
    const outTo = (out: string, wdir = ''): string => `stages:\n  gen:\n    cmd: echo\n${wdir === '' ? '' : `    wdir: ${wdir}\n`}    outs: [${out}]\n`
    for (const [out, wdir, shown] of [['mlp.yaml', '', 'mlp.yaml'], ['dvc.lock', 'sub', 'sub/dvc.lock'], ['../dvc.yaml', 'sub', 'dvc.yaml']]) {
      const dir = await repo({ 'dvc.yaml': outTo(out, wdir), 'sub/keep.txt': '' })
      expect(() => loadProjectPipeline(dir)).toThrow(`stage 'gen': out '${shown}' is a pipeline or lock file`)
    }
    // a subfolder's file writing the root's pipeline file
    const sub = await repo({ 'dvc.yaml': ROOT, 'train/dvc.yaml': outTo('../mlp.yaml') })
    expect(() => loadProjectPipeline(sub)).toThrow(/train\/dvc\.yaml:2: stage 'train\/dvc\.yaml:gen': out 'mlp\.yaml'/)
    const ok = await repo({ 'dvc.yaml': outTo('model.txt') })
    expect(loadProjectPipeline(ok)?.stages.map((s) => s.name)).toEqual(['gen'])
    // buildGraph checks on its own too (stage add checks new stages with it)
    const stages = loadPipeline(join(ok, 'dvc.yaml')).stages
    stages[0].outs[0].path = 'mlp.lock'
    expect(() => buildGraph(stages, 'dvc.yaml')).toThrow(/stage 'gen': out 'mlp\.lock' is a pipeline or lock file/)
  })

  it('stage add refuses an out that is a pipeline file and writes nothing', async () => {
    const dir = await repo({ 'dvc.yaml': ROOT })
    const before = await readFile(join(dir, 'dvc.yaml'), 'utf8')
    await expect(addStage(dir, dir, { name: 'bad', cmd: 'echo', outs: ['mlp.yaml'] })).rejects.toThrow(/stage 'bad': out 'mlp\.yaml' is a pipeline or lock file/)
    await mkdir(join(dir, 'eval'))
    await expect(addStage(dir, join(dir, 'eval'), { name: 'bad', cmd: 'echo', outsNoCache: ['dvc.yaml'] })).rejects.toThrow(/out 'eval\/dvc\.yaml' is a pipeline or lock file/)
    expect(await readFile(join(dir, 'dvc.yaml'), 'utf8')).toBe(before)
    expect(await readdir(join(dir, 'eval'))).toEqual([])
    // positive control
    await addStage(dir, dir, { name: 'good', cmd: 'echo', outs: ['good.txt'] })
    expect(loadProjectPipeline(dir)?.stages.map((s) => s.name)).toContain('good')
  })

  it('does not read a root pipeline file a pointer file tracks', async () => {
    for (const pointer of ['mlp.yaml.mlp', 'mlp.yaml.dvc']) {
      const dir = await repo({ 'dvc.yaml': ROOT, 'mlp.yaml': 'stages:\n  evil:\n    cmd: touch pwned\n', [pointer]: 'outs: []\n' })
      expect(() => loadProjectPipeline(dir)).toThrow(`mlp does not read it: ${pointer} tracks it as data`)
    }
    // a pointer by another name whose out is the pipeline file: `mlp pull` would write it
    const named = await repo({ 'dvc.yaml': ROOT, 'mlp.yaml': 'stages:\n  evil:\n    cmd: touch pwned\n', 'data.mlp': 'outs:\n  - path: mlp.yaml\n    cid: bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy\n    size: 1\n' })
    expect(() => loadProjectPipeline(named)).toThrow('mlp does not read it: data.mlp tracks it as data')
    // positive control: a pointer to other data does not stop the root file being read
    await writeFile(join(named, 'data.mlp'), 'outs:\n  - path: data.csv\n    cid: bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy\n    size: 1\n')
    expect(loadProjectPipeline(named)?.stages.map((s) => s.name)).toEqual(['evil'])
    // positive control: without the pointer, the root's mlp.yaml is read
    const dir = await repo({ 'dvc.yaml': ROOT, 'mlp.yaml': 'stages:\n  evil:\n    cmd: echo\n' })
    expect(loadProjectPipeline(dir)?.stages.map((s) => s.name)).toEqual(['evil'])
  })

  it('has no pipeline when every tracked file lies in a pointer-tracked folder; dag says there are no stages', async () => {
    const dir = await repo({ 'ds/dvc.yaml': 'stages:\n  evil:\n    cmd: touch pwned\n', 'ds.mlp': 'outs: []\n' })
    expect(loadProjectPipeline(dir)).toBeUndefined()
    expect(() => readDag(dir)).toThrow(/no stages in .*: every pipeline file is inside a pointer-tracked folder/)
    // positive control: without the pointer, that file is read
    await rm(join(dir, 'ds.mlp'))
    expect(loadProjectPipeline(dir)?.stages.map((s) => s.name)).toEqual(['ds/dvc.yaml:evil'])
  })
})
