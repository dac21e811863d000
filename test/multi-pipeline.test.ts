import { execFileSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import { existsSync, mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { mlp, mlpJson, tempDir } from './helpers/cli.js'
import { DaemonPool, type TestDaemon } from './helpers/daemons.js'
import { newProject } from './helpers/project.js'
import { runs } from './helpers/pipeline.js'

const pool = new DaemonPool()
let d: TestDaemon
beforeAll(async () => {
  // no run-cache roots: gc keeps a stage's outs only because a lock names them
  const home = await pool.home()
  writeFileSync(join(home, 'config.yaml'), 'gcKeepRunCacheDays: 0\n')
  d = await pool.start(home)
})
afterAll(async () => { await pool.cleanup() })

interface Outcome { stage: string, status: string, reasons: string[] }
const statuses = (o: Outcome[]): Record<string, string> => Object.fromEntries(o.map((x) => [x.stage, x.status]))
const git = (cwd: string, ...args: string[]): string => execFileSync('git', ['-c', 'user.email=t@example.com', '-c', 'user.name=t', ...args], { cwd, encoding: 'utf8' })
const md5 = (b: string): string => createHash('md5').update(b).digest('hex')

/** Writes a file, making its folders. */
function put (root: string, rel: string, data: string): void {
  mkdirSync(dirname(join(root, rel)), { recursive: true })
  writeFileSync(join(root, rel), data)
}

const PREPARE = 'mkdir -p data && cp raw.txt data/prepared.txt && echo prepare >> runs.log'
// runs in train/ (its file's folder): its paths are relative to it
const FIT = 'cat ../data/prepared.txt params.yaml > model.txt && echo fit >> ../runs.log'
/** A pipeline file whose stage would leave a marker at the project root if it ever ran. */
const EVIL = 'stages:\n  evil:\n    cmd: touch ../pwned && echo evil >> ../runs.log\n'

describe('several pipeline files', () => {
  it('form one DAG run from a subfolder, addressed as DVC does; files in outs or untracked folders are never run', async () => {
    const proj = await newProject(d.home)
    put(proj, '.gitignore', '/runs.log\n')
    put(proj, 'raw.txt', 'rows\n')
    put(proj, 'dvc.yaml', `stages:\n  prepare:\n    cmd: ${PREPARE}\n    deps: [raw.txt]\n    outs: [data/prepared.txt]\n`)
    put(proj, 'train/dvc.yaml', `stages:\n  fit:\n    cmd: ${FIT}\n    deps: [../data/prepared.txt]\n    params: [lr]\n    outs: [model.txt]\n`)
    put(proj, 'train/params.yaml', 'lr: 0.1\n')
    git(proj, 'add', '-A')
    git(proj, 'commit', '-q', '-m', 'two pipeline files')
    const train = join(proj, 'train')

    // from the subfolder: both files, the root's stage first
    const first = await mlpJson<Outcome[]>(d.home, ['repro'], { cwd: train })
    expect(first.map((o) => [o.stage, o.status])).toEqual([['prepare', 'ran'], ['train/dvc.yaml:fit', 'ran']])
    expect(runs(proj)).toEqual(['prepare', 'fit'])
    expect(readFileSync(join(train, 'model.txt'), 'utf8')).toBe('rows\nlr: 0.1\n')
    // one lock beside each pipeline file, keyed by the stage's name in that file
    expect(readFileSync(join(proj, 'mlp.lock'), 'utf8')).toMatch(/^ {2}prepare:/m)
    expect(readFileSync(join(train, 'mlp.lock'), 'utf8')).toMatch(/^ {2}fit:/m)
    expect(readFileSync(join(proj, 'mlp.lock'), 'utf8')).not.toContain('fit')

    // nothing changed: nothing runs
    expect(statuses(await mlpJson<Outcome[]>(d.home, ['repro'], { cwd: train }))).toEqual({ prepare: 'skipped', 'train/dvc.yaml:fit': 'skipped' })
    expect(runs(proj)).toHaveLength(2)
    expect((await mlpJson(d.home, ['status'], { cwd: train })).stages).toEqual([])
    const dag = await mlpJson(d.home, ['dag'], { cwd: train })
    expect(dag.stages.map((s: { name: string }) => s.name)).toEqual(['prepare', 'train/dvc.yaml:fit'])
    expect(dag.edges).toEqual([['prepare', 'train/dvc.yaml:fit']])

    // the subfolder's params file: exactly its stage reruns
    writeFileSync(join(train, 'params.yaml'), 'lr: 0.2\n')
    const st = await mlpJson(d.home, ['status'], { cwd: proj })
    expect(st.stages).toEqual([{ stage: 'train/dvc.yaml:fit', reasons: ['param changed: lr'] }])
    expect(statuses(await mlpJson<Outcome[]>(d.home, ['repro'], { cwd: proj }))).toEqual({ prepare: 'skipped', 'train/dvc.yaml:fit': 'ran' })
    expect(runs(proj)).toEqual(['prepare', 'fit', 'fit'])
    // `dvc.yaml:fit` typed in train/ is that folder's file, as in DVC
    expect(statuses(await mlpJson<Outcome[]>(d.home, ['repro', '-s', '-f', 'dvc.yaml:fit'], { cwd: train }))).toEqual({ 'train/dvc.yaml:fit': 'ran' })
    expect(runs(proj)).toEqual(['prepare', 'fit', 'fit', 'fit'])

    // gc keeps the outs the subfolder's lock names: deleted, they come back from the store
    const model = readFileSync(join(train, 'model.txt'), 'utf8')
    await mlpJson(d.home, ['gc', '--workspace'])
    rmSync(join(train, 'model.txt'))
    rmSync(join(proj, 'data'), { recursive: true })
    await mlpJson(d.home, ['checkout'], { cwd: proj })
    expect(readFileSync(join(train, 'model.txt'), 'utf8')).toBe(model)
    expect(readFileSync(join(proj, 'data', 'prepared.txt'), 'utf8')).toBe('rows\n')

    // a stage's out folder that holds a dvc.yaml (as a dataset from a peer may), even force-added to git, and an untracked folder's
    put(proj, 'evil.txt', EVIL)
    writeFileSync(join(proj, 'dvc.yaml'), readFileSync(join(proj, 'dvc.yaml'), 'utf8') + '  fetch:\n    cmd: mkdir -p vendor && cp evil.txt vendor/dvc.yaml\n    deps: [evil.txt]\n    outs: [vendor]\n')
    put(proj, 'extra/dvc.yaml', EVIL)
    expect(statuses(await mlpJson<Outcome[]>(d.home, ['repro'], { cwd: proj }))).toEqual({ prepare: 'skipped', 'train/dvc.yaml:fit': 'skipped', fetch: 'ran' })
    expect(readFileSync(join(proj, 'vendor', 'dvc.yaml'), 'utf8')).toBe(EVIL)
    git(proj, 'add', '-f', 'vendor/dvc.yaml')
    const quiet = await mlpJson<Outcome[]>(d.home, ['repro'], { cwd: proj })
    expect(quiet.map((o) => o.stage)).toEqual(['prepare', 'fetch', 'train/dvc.yaml:fit'])
    expect((await mlpJson(d.home, ['dag'], { cwd: proj })).stages.map((s: { name: string }) => s.name)).toEqual(['prepare', 'fetch', 'train/dvc.yaml:fit'])
    expect(existsSync(join(proj, 'pwned'))).toBe(false)
    expect(runs(proj)).not.toContain('evil')

    // positive control: the same file committed to git outside any out is code, and runs
    put(proj, 'tools/dvc.yaml', EVIL)
    git(proj, 'add', 'tools/dvc.yaml')
    expect(statuses(await mlpJson<Outcome[]>(d.home, ['repro'], { cwd: proj }))).toMatchObject({ 'tools/dvc.yaml:evil': 'ran' })
    expect(existsSync(join(proj, 'pwned'))).toBe(true)
    expect(runs(proj).filter((r) => r === 'evil')).toHaveLength(1)
  })

  it('reads a bare stage name as the current folder\'s file\'s stage, and stage add writes that file', async () => {
    const proj = await newProject(d.home)
    put(proj, '.gitignore', '/runs.log\n')
    // other rows than the test before: this daemon's run cache must not restore its runs
    put(proj, 'raw.txt', 'bare rows\n')
    put(proj, 'dvc.yaml', `stages:\n  prepare:\n    cmd: ${PREPARE}\n    deps: [raw.txt]\n    outs: [data/prepared.txt]\n`)
    put(proj, 'train/dvc.yaml', `stages:\n  fit:\n    cmd: ${FIT}\n    deps: [../data/prepared.txt]\n    params: [lr]\n    outs: [model.txt]\n`)
    put(proj, 'train/params.yaml', 'lr: 0.1\n')
    git(proj, 'add', '-A')
    git(proj, 'commit', '-q', '-m', 'two pipeline files')
    const train = join(proj, 'train')
    const oneLine = (r: { code: number, stderr: string }): string => {
      expect(r.code).not.toBe(0)
      expect(r.stderr.trim().split('\n')).toHaveLength(1)
      return r.stderr.trim()
    }

    // at the root, `fit` is the root file's, which has none: the error names the address that has it, and nothing runs
    expect(oneLine(await mlp(d.home, ['repro', 'fit'], { cwd: proj }))).toMatch(/no stage 'fit' in dvc\.yaml here; did you mean train\/dvc\.yaml:fit\?$/)
    expect(runs(proj)).toEqual([])
    // in train/, `fit` is train/dvc.yaml:fit (with the root stage it needs)
    expect(statuses(await mlpJson<Outcome[]>(d.home, ['repro', 'fit'], { cwd: train }))).toEqual({ prepare: 'ran', 'train/dvc.yaml:fit': 'ran' })
    expect(runs(proj)).toEqual(['prepare', 'fit'])
    expect(statuses(await mlpJson<Outcome[]>(d.home, ['repro', '-s', '-f', 'fit'], { cwd: train }))).toEqual({ 'train/dvc.yaml:fit': 'ran' })
    expect(runs(proj)).toEqual(['prepare', 'fit', 'fit'])
    // checkout takes the same names, and paths relative to the folder it is typed in
    rmSync(join(train, 'model.txt'))
    expect((await mlp(d.home, ['checkout', 'fit'], { cwd: train })).code).toBe(0)
    expect(readFileSync(join(train, 'model.txt'), 'utf8')).toBe('bare rows\nlr: 0.1\n')
    rmSync(join(train, 'model.txt'))
    expect((await mlp(d.home, ['checkout', 'model.txt'], { cwd: train })).code).toBe(0)
    expect(existsSync(join(train, 'model.txt'))).toBe(true)
    expect(oneLine(await mlp(d.home, ['checkout', 'fit'], { cwd: proj }))).toMatch(/did you mean train\/dvc\.yaml:fit\?$/)

    // stage add in train/ writes train/dvc.yaml, paths as typed there; git tracks that file, so no hint
    const added = await mlp(d.home, ['stage', 'add', '-n', 'score', '-d', 'model.txt', '-o', 'score.txt', 'cp model.txt score.txt'], { cwd: train })
    expect(added.code, added.stderr).toBe(0)
    expect(added.stdout).not.toContain('git add')
    expect(readFileSync(join(train, 'dvc.yaml'), 'utf8')).toMatch(/^ {2}score:\n {4}cmd: cp model.txt score.txt\n {4}deps:\n {6}- model.txt\n {4}outs:\n {6}- score.txt\n/m)
    expect(readFileSync(join(proj, 'dvc.yaml'), 'utf8')).not.toContain('score')
    // an out the root file's stage already writes: refused in one line, nothing written
    const before = readFileSync(join(train, 'dvc.yaml'), 'utf8')
    expect(oneLine(await mlp(d.home, ['stage', 'add', '-n', 'again', '-o', '../data/prepared.txt', 'echo'], { cwd: train }))).toMatch(/stage 'train\/dvc\.yaml:again': out 'data\/prepared\.txt' is also an out of stage 'prepare'/)
    expect(readFileSync(join(train, 'dvc.yaml'), 'utf8')).toBe(before)
    expect(statuses(await mlpJson<Outcome[]>(d.home, ['repro', 'score'], { cwd: train }))).toEqual({ prepare: 'skipped', 'train/dvc.yaml:fit': 'skipped', 'train/dvc.yaml:score': 'ran' })

    // a folder without a pipeline file gets a new mlp.yaml, read once git tracks it
    mkdirSync(join(proj, 'eval'))
    const evalDir = join(proj, 'eval')
    const created = await mlp(d.home, ['stage', 'add', '-n', 'report', '-d', '../train/score.txt', '-o', 'report.txt', 'cp ../train/score.txt report.txt'], { cwd: evalDir })
    expect(created.code, created.stderr).toBe(0)
    expect(created.stdout).toContain('To track the changes with git, run: git add mlp.yaml')
    expect(readFileSync(join(evalDir, 'mlp.yaml'), 'utf8')).toContain('- ../train/score.txt')
    expect(oneLine(await mlp(d.home, ['repro', 'report'], { cwd: evalDir }))).toMatch(/mlp does not read eval\/mlp\.yaml: git does not track it yet \(git add mlp\.yaml\)$/)
    git(proj, 'add', 'eval/mlp.yaml')
    expect(statuses(await mlpJson<Outcome[]>(d.home, ['repro', 'report'], { cwd: evalDir }))).toMatchObject({ 'eval/mlp.yaml:report': 'ran' })
    expect(readFileSync(join(evalDir, 'report.txt'), 'utf8')).toBe('bare rows\nlr: 0.1\n')
  })

  it('refuses two files writing the same out in one line naming both stages, and runs nothing', async () => {
    const proj = await newProject(d.home)
    put(proj, 'dvc.yaml', 'stages:\n  a:\n    cmd: echo a > out.txt && touch ran-a\n    outs: [out.txt]\n')
    put(proj, 'sub/dvc.yaml', 'stages:\n  b:\n    cmd: echo b > ../out.txt\n    outs: [../out.txt]\n')
    git(proj, 'add', '-A')
    const r = await mlp(d.home, ['repro'], { cwd: proj })
    expect(r.code).not.toBe(0)
    expect(r.stderr).toMatch(/stage 'sub\/dvc\.yaml:b': out 'out\.txt' is also an out of stage 'a' \(.*dvc\.yaml:2\)/)
    expect(existsSync(join(proj, 'ran-a'))).toBe(false)
    // positive control: the other file's stage writing its own out loads and runs
    put(proj, 'sub/dvc.yaml', 'stages:\n  b:\n    cmd: echo b > b.txt\n    outs: [b.txt]\n')
    expect(statuses(await mlpJson<Outcome[]>(d.home, ['repro'], { cwd: proj }))).toEqual({ a: 'ran', 'sub/dvc.yaml:b': 'ran' })
  })

  it('migrates the dvc.lock beside every dvc.yaml: nothing reruns, a param reruns exactly its stage', async () => {
    const root = await tempDir('mlp-dvc-multi-')
    git(root, 'init', '-q')
    put(root, '.dvc/config', '')
    put(root, '.dvc/.gitignore', '/config.local\n/tmp\n/cache\n')
    put(root, '.gitignore', '/runs.log\n/data\n')
    put(root, 'eval/.gitignore', '/score.txt\n')
    const raw = 'rows\n'
    put(root, 'raw.txt', raw)
    const score = raw + 'lr: 0.1\n'
    put(root, 'dvc.yaml', `stages:\n  prepare:\n    cmd: ${PREPARE}\n    deps: [raw.txt]\n    outs: [data/prepared.txt]\n`)
    const SCORE = 'cat ../data/prepared.txt params.yaml > score.txt && echo score >> ../runs.log'
    put(root, 'eval/dvc.yaml', `stages:\n  score:\n    cmd: ${SCORE}\n    deps: [../data/prepared.txt]\n    params: [lr]\n    outs: [score.txt]\n`)
    put(root, 'eval/params.yaml', 'lr: 0.1\n')
    const entry = (path: string, data: string): string => `    - path: ${path}\n      hash: md5\n      md5: ${md5(data)}\n      size: ${data.length}\n`
    put(root, 'dvc.lock', `schema: '2.0'\nstages:\n  prepare:\n    cmd: ${PREPARE}\n    deps:\n${entry('raw.txt', raw)}    outs:\n${entry('data/prepared.txt', raw)}`)
    // DVC writes a subfolder's lock paths relative to that folder, its params file by its name there
    put(root, 'eval/dvc.lock', `schema: '2.0'\nstages:\n  score:\n    cmd: ${SCORE}\n    deps:\n${entry('../data/prepared.txt', raw)}    params:\n      params.yaml:\n        lr: 0.1\n    outs:\n${entry('score.txt', score)}`)
    // the root's out only in DVC's cache, the subfolder's in the workspace
    put(root, `.dvc/cache/files/md5/${md5(raw).slice(0, 2)}/${md5(raw).slice(2)}`, raw)
    put(root, 'eval/score.txt', score)
    git(root, 'add', '-A')
    git(root, 'commit', '-q', '-m', 'dvc project')

    await mlp(d.home, ['init'], { cwd: root })
    const migrated = await mlpJson(d.home, ['migrate'], { cwd: root })
    expect(migrated.stages).toEqual([{ stage: 'prepare', state: 'written' }, { stage: 'eval/dvc.yaml:score', state: 'written' }])
    expect(migrated.problems).toEqual([])
    expect(readFileSync(join(root, 'data/prepared.txt'), 'utf8')).toBe(raw)
    expect(readFileSync(join(root, 'eval/mlp.lock'), 'utf8')).toMatch(/^ {2}score:/m)
    expect((await mlpJson(d.home, ['status'], { cwd: join(root, 'eval') })).stages).toEqual([])
    expect(statuses(await mlpJson<Outcome[]>(d.home, ['repro'], { cwd: join(root, 'eval') }))).toEqual({ prepare: 'skipped', 'eval/dvc.yaml:score': 'skipped' })
    expect(runs(root)).toEqual([])
    // a second migration changes nothing
    expect((await mlpJson(d.home, ['migrate'], { cwd: root })).changed).toBe(false)

    writeFileSync(join(root, 'eval/params.yaml'), 'lr: 0.3\n')
    expect(statuses(await mlpJson<Outcome[]>(d.home, ['repro'], { cwd: root }))).toEqual({ prepare: 'skipped', 'eval/dvc.yaml:score': 'ran' })
    expect(runs(root)).toEqual(['score'])
  })

  it('never lets a pipeline or lock file be data: add, stage outs, stage add, fetch -o and a pointer-tracked root file are refused', async () => {
    const proj = await newProject(d.home)
    const refused = (r: { code: number, stderr: string }): string => {
      expect(r.code).not.toBe(0)
      expect(r.stderr.trim().split('\n')).toHaveLength(1)
      return r.stderr.trim()
    }
    put(proj, 'data.csv', 'a,b\n')
    put(proj, 'dvc.yaml', 'stages:\n  ok:\n    cmd: echo ok\n')
    put(proj, 'mlp.yaml', 'stages:\n  evil:\n    cmd: touch pwned\n')
    put(proj, 'sub/dvc.lock', 'schema: \'2.0\'\n')
    // `mlp add` of a pipeline or lock file, anywhere: refused, nothing written
    expect(refused(await mlp(d.home, ['add', 'mlp.yaml'], { cwd: proj }))).toMatch(/cannot add mlp\.yaml: 'mlp\.yaml' is a pipeline or lock file/)
    expect(refused(await mlp(d.home, ['add', 'sub/dvc.lock'], { cwd: proj }))).toMatch(/is a pipeline or lock file \(dvc\.lock\)/)
    expect(existsSync(join(proj, 'mlp.yaml.mlp'))).toBe(false)
    expect(existsSync(join(proj, '.gitignore')) ? readFileSync(join(proj, '.gitignore'), 'utf8') : '').not.toContain('mlp.yaml')
    // positive control: data is added
    const [added] = await mlpJson(d.home, ['add', 'data.csv'], { cwd: proj })
    expect(existsSync(join(proj, 'data.csv.mlp'))).toBe(true)

    // a root pipeline file a pointer tracks (as a teammate's pull would write it) is never read
    writeFileSync(join(proj, 'mlp.yaml.mlp'), readFileSync(join(proj, 'data.csv.mlp'), 'utf8').split('data.csv').join('mlp.yaml'))
    expect(refused(await mlp(d.home, ['dag'], { cwd: proj }))).toMatch(/mlp does not read it: mlp\.yaml\.mlp tracks it as data/)
    expect(refused(await mlp(d.home, ['repro', '--force'], { cwd: proj }))).toMatch(/mlp\.yaml\.mlp tracks it as data/)
    expect(existsSync(join(proj, 'pwned'))).toBe(false)
    // positive control: without the pointer, the root's mlp.yaml is code again (it outranks dvc.yaml)
    rmSync(join(proj, 'mlp.yaml.mlp'))
    expect((await mlpJson(d.home, ['dag'], { cwd: proj })).stages.map((s: { name: string }) => s.name)).toEqual(['evil'])
    rmSync(join(proj, 'mlp.yaml'))

    // a stage whose out is a pipeline file: a load error naming the stage, and nothing runs
    put(proj, 'evil.yaml', 'stages:\n  evil:\n    cmd: touch pwned\n')
    put(proj, 'dvc.yaml', 'stages:\n  gen:\n    cmd: cp evil.yaml mlp.yaml\n    outs: [mlp.yaml]\n')
    expect(refused(await mlp(d.home, ['dag'], { cwd: proj }))).toMatch(/stage 'gen': out 'mlp\.yaml' is a pipeline or lock file/)
    expect(refused(await mlp(d.home, ['repro'], { cwd: proj }))).toMatch(/stage 'gen': out 'mlp\.yaml'/)
    expect(existsSync(join(proj, 'mlp.yaml'))).toBe(false)
    // positive control: an ordinary out loads
    put(proj, 'dvc.yaml', 'stages:\n  gen:\n    cmd: echo m > model.txt\n    outs: [model.txt]\n')
    expect((await mlpJson(d.home, ['dag'], { cwd: proj })).stages.map((s: { name: string }) => s.name)).toEqual(['gen'])

    // `stage add -o` a pipeline or lock file: refused before anything is written
    const before = readFileSync(join(proj, 'dvc.yaml'), 'utf8')
    for (const out of ['mlp.yaml', 'sub/dvc.yaml', 'mlp.lock']) {
      expect(refused(await mlp(d.home, ['stage', 'add', '-n', 'bad', '-o', out, 'echo x'], { cwd: proj }))).toMatch(/stage 'bad': out '.*' is a pipeline or lock file/)
    }
    expect(readFileSync(join(proj, 'dvc.yaml'), 'utf8')).toBe(before)
    expect(existsSync(join(proj, 'mlp.yaml'))).toBe(false)
    // positive control
    expect((await mlp(d.home, ['stage', 'add', '-n', 'fit', '-o', 'fit.txt', 'echo x > fit.txt'], { cwd: proj })).code).toBe(0)
    expect(readFileSync(join(proj, 'dvc.yaml'), 'utf8')).toContain('fit:')

    // `fetch -o` to a pipeline or lock file name: refused; to another name it writes the data
    const pipeline = readFileSync(join(proj, 'dvc.yaml'), 'utf8')
    for (const out of ['mlp.yaml', 'dvc.yaml', 'sub/mlp.lock']) {
      expect(refused(await mlp(d.home, ['fetch', added.cid, '-o', out], { cwd: proj }))).toMatch(/cannot fetch to .*: '.*' is a pipeline or lock file/)
    }
    expect(existsSync(join(proj, 'mlp.yaml')) || existsSync(join(proj, 'sub/mlp.lock'))).toBe(false)
    expect(readFileSync(join(proj, 'dvc.yaml'), 'utf8')).toBe(pipeline)
    expect((await mlp(d.home, ['fetch', added.cid, '-o', 'copy.csv'], { cwd: proj })).code).toBe(0)
    expect(readFileSync(join(proj, 'copy.csv'), 'utf8')).toBe('a,b\n')
  })

  it('a project whose only pipeline files lie in pointer-tracked folders has no stages, and its data checks out', async () => {
    const proj = await newProject(d.home)
    put(proj, 'ds/rows.csv', 'x\n')
    put(proj, 'ds/dvc.yaml', EVIL)
    expect((await mlp(d.home, ['add', 'ds'], { cwd: proj })).code).toBe(0)
    // the dataset's pipeline file committed by mistake: git tracks it, but it lies in a pointer-tracked folder
    git(proj, 'add', '-A')
    git(proj, 'add', '-f', 'ds/dvc.yaml')
    git(proj, 'commit', '-q', '-m', 'data')
    expect(git(proj, 'ls-files', 'ds')).toContain('ds/dvc.yaml')
    expect((await mlpJson(d.home, ['status'], { cwd: proj })).stages).toEqual([])
    const dag = await mlp(d.home, ['dag'], { cwd: proj })
    expect(dag.code).not.toBe(0)
    expect(dag.stderr.trim()).toMatch(/^.*no stages in .*: every pipeline file is inside a pointer-tracked folder or a stage out, so mlp reads none/)
    expect((await mlp(d.home, ['repro', '--dry'], { cwd: proj })).stderr).not.toContain('Cannot read properties')
    rmSync(join(proj, 'ds/rows.csv'))
    expect((await mlp(d.home, ['checkout'], { cwd: proj })).code).toBe(0)
    expect(readFileSync(join(proj, 'ds/rows.csv'), 'utf8')).toBe('x\n')
    // stage add still works: the root gets a new pipeline file
    expect((await mlp(d.home, ['stage', 'add', '-n', 'ok', 'echo ok'], { cwd: proj })).code).toBe(0)
    expect((await mlpJson(d.home, ['dag'], { cwd: proj })).stages.map((s: { name: string }) => s.name)).toEqual(['ok'])
    expect(existsSync(join(proj, 'pwned'))).toBe(false)
  })
})

describe('a dataset is never a project or a pipeline file', () => {
  /** A marker outside the project: a stage that leaves it ran, wherever its cwd was. */
  const evilTo = (marker: string): string => `stages:\n  evil:\n    cmd: touch ${marker}\n`

  it('a dataset carrying its own .mlp/ is not a project: after a clone and pull its dvc.yaml never runs, the outer stage does', async () => {
    const proj = await newProject(d.home)
    const marker = join(await tempDir('mlp-marker-'), 'PWNED')
    put(proj, 'dvc.yaml', 'stages:\n  real:\n    cmd: echo real > real.txt\n    outs: [real.txt]\n')
    put(proj, 'data/raw/rows.csv', 'x\n')
    put(proj, 'data/raw/.mlp/config.yaml', readFileSync(join(proj, '.mlp/config.yaml'), 'utf8'))
    put(proj, 'data/raw/dvc.yaml', evilTo(marker))
    expect((await mlp(d.home, ['add', 'data/raw'], { cwd: proj })).code).toBe(0)
    git(proj, 'add', '-A')
    git(proj, 'commit', '-q', '-m', 'data with a .mlp inside')
    const clone = join(await tempDir(), 'clone')
    git(dirname(clone), 'clone', '-q', proj, clone)
    expect((await mlp(d.home, ['pull'], { cwd: clone })).code).toBe(0)
    const raw = join(clone, 'data/raw')
    expect(readFileSync(join(raw, 'dvc.yaml'), 'utf8')).toBe(evilTo(marker))
    expect(existsSync(join(raw, '.mlp/config.yaml'))).toBe(true)

    // from inside the dataset: the project is the clone, whose only stage is the real one
    expect((await mlpJson(d.home, ['dag'], { cwd: raw })).stages.map((s: { name: string }) => s.name)).toEqual(['real'])
    expect(statuses(await mlpJson<Outcome[]>(d.home, ['repro'], { cwd: raw }))).toEqual({ real: 'ran' })
    expect(existsSync(marker)).toBe(false)
    // positive control: the real stage ran at the clone's root, and its lock is there, none in the dataset
    expect(readFileSync(join(clone, 'real.txt'), 'utf8')).toBe('real\n')
    expect(existsSync(join(clone, 'mlp.lock'))).toBe(true)
    expect(existsSync(join(raw, 'mlp.lock'))).toBe(false)
    expect((await mlp(d.home, ['repro', '--force'], { cwd: raw })).code).toBe(0)
    expect(existsSync(marker)).toBe(false)
  })

  it('a tracked pipeline file that is a symlink, or lies in a folder now a symlink, is refused; the same file as a regular one runs', async () => {
    const proj = await newProject(d.home)
    const marker = join(await tempDir('mlp-marker-'), 'PWNED')
    const refused = async (args: string[]): Promise<string> => {
      const r = await mlp(d.home, args, { cwd: proj })
      expect(r.code).not.toBe(0)
      expect(r.stderr.trim().split('\n')).toHaveLength(1)
      return r.stderr.trim()
    }
    put(proj, 'data/raw/dvc.yaml', evilTo(marker))
    expect((await mlp(d.home, ['add', 'data/raw'], { cwd: proj })).code).toBe(0)
    // a subfolder's file linked into the dataset, committed
    mkdirSync(join(proj, 'sub'))
    symlinkSync('../data/raw/dvc.yaml', join(proj, 'sub/dvc.yaml'))
    git(proj, 'add', '-A')
    git(proj, 'commit', '-q', '-m', 'linked pipeline file')
    expect(await refused(['repro'])).toMatch(/sub\/dvc\.yaml is a symlink; mlp reads only a regular file as a pipeline file/)
    // the root's file linked into the dataset: an error, not silently no pipeline
    rmSync(join(proj, 'sub/dvc.yaml'))
    symlinkSync('data/raw/dvc.yaml', join(proj, 'dvc.yaml'))
    git(proj, 'add', '-A')
    expect(await refused(['repro'])).toMatch(/\/dvc\.yaml is a symlink/)
    expect(await refused(['dag'])).toMatch(/\/dvc\.yaml is a symlink/)
    rmSync(join(proj, 'dvc.yaml'))
    // a tracked folder swapped in the workspace for a link to the dataset: git still lists other/dvc.yaml
    put(proj, 'other/dvc.yaml', 'stages:\n  ok:\n    cmd: echo ok\n')
    git(proj, 'add', '-A')
    rmSync(join(proj, 'other'), { recursive: true })
    symlinkSync('data/raw', join(proj, 'other'))
    expect(await refused(['repro'])).toMatch(/other\/dvc\.yaml lies in a folder reached through a symlink \('other'\)/)
    expect(existsSync(marker)).toBe(false)

    // positive control: the same text as a regular tracked file in sub/ is code, and runs
    rmSync(join(proj, 'other'))
    put(proj, 'sub/dvc.yaml', evilTo(marker))
    git(proj, 'add', '-A')
    expect(statuses(await mlpJson<Outcome[]>(d.home, ['repro'], { cwd: proj }))).toEqual({ 'sub/dvc.yaml:evil': 'ran' })
    expect(existsSync(marker)).toBe(true)
  })
})
