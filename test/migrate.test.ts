import { execFileSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { mlp, mlpJson, tempDir } from './helpers/cli.js'
import { DaemonPool, type TestDaemon } from './helpers/daemons.js'
import { sha256 } from './helpers/project.js'

const pool = new DaemonPool()
let d: TestDaemon
let mate: TestDaemon
beforeAll(async () => { [d, mate] = [await pool.start(), await pool.start()] })
afterAll(async () => { await pool.cleanup() })

interface Outcome { stage: string, status: string }
const statuses = (o: Outcome[]): Record<string, string> => Object.fromEntries(o.map((x) => [x.stage, x.status]))
const md5 = (b: Buffer | string): string => createHash('md5').update(b).digest('hex')

/** Writes a file, making its folders. */
function put (root: string, rel: string, data: Buffer | string): void {
  mkdirSync(dirname(join(root, rel)), { recursive: true })
  writeFileSync(join(root, rel), data)
}

/** Puts bytes in DVC 3's local cache, as `dvc add`/`dvc repro` would; returns their md5. */
function cache (root: string, data: Buffer | string, name?: string): string {
  const sum = name ?? md5(data)
  put(root, join('.dvc', 'cache', 'files', 'md5', sum.slice(0, 2), sum.slice(2)), data)
  return sum
}

/** DVC's `.dir` manifest: `json.dumps(sorted entries, sort_keys=True)`, its md5 plus `.dir`. */
function dirManifest (files: Record<string, string>): { text: string, md5: string } {
  const entries = Object.keys(files).sort().map((relpath) => `{"md5": "${md5(files[relpath])}", "relpath": "${relpath}"}`)
  const text = `[${entries.join(', ')}]`
  return { text, md5: md5(text) + '.dir' }
}

const git = (cwd: string, ...args: string[]): string => execFileSync('git', args, { cwd, encoding: 'utf8' })

const PREPARE = "const fs = require('fs'); fs.appendFileSync('runs.log', 'prepare\\n'); const n = Number(process.argv[2]); fs.writeFileSync('prepared.csv', fs.readFileSync('data/raw.csv', 'utf8').split('\\n').slice(0, n).join('\\n') + '\\n')\n"
const TRAIN = "const fs = require('fs'); fs.appendFileSync('runs.log', 'train\\n'); fs.writeFileSync('model.bin', 'model lr=' + process.argv[2] + ' ' + fs.readFileSync('prepared.csv', 'utf8').length); fs.writeFileSync('metrics.json', JSON.stringify({ lr: Number(process.argv[2]) }))\n"

/**
 * A DVC 3 project as `dvc add` and `dvc repro` leave it, built by hand:
 * data/raw.csv only in the cache, data/images in the workspace and cache, a
 * prepare → train pipeline whose dvc.lock is up to date (prepared.csv only in
 * the cache), plus four things that cannot come over: a corrupt cache file,
 * data in neither place, an import whose data is absent, a directory whose
 * manifest is missing. And a DVC 2 entry in the old cache layout.
 */
async function dvcProject (): Promise<{ root: string, sums: Record<string, string> }> {
  const root = await tempDir('mlp-dvc-')
  git(root, 'init', '-q')
  put(root, '.dvc/config', '')
  put(root, '.dvc/.gitignore', '/config.local\n/tmp\n/cache\n')
  put(root, '.dvcignore', '')

  const raw = Array.from({ length: 20 }, (_, i) => `${i},${(i * 7) % 11}`).join('\n') + '\n'
  put(root, 'data/raw.csv.dvc', `outs:\n- md5: ${cache(root, raw)}\n  size: ${raw.length}\n  hash: md5\n  path: raw.csv\n`)
  const images = { 'a.txt': 'image a\n', 'sub/b.txt': 'image b\n' }
  for (const [f, text] of Object.entries(images)) {
    put(root, `data/images/${f}`, text)
    cache(root, text)
  }
  const manifest = dirManifest(images)
  cache(root, manifest.text, manifest.md5)
  put(root, 'data/images.dvc', `outs:\n- md5: ${manifest.md5}\n  size: 16\n  nfiles: 2\n  hash: md5\n  path: images\n`)
  // DVC 2: no `hash: md5`, the md5 of a text file taken after dos2unix, the cache in .dvc/cache/<2>/<30>
  const legacy = 'x,y\r\n1,2\r\n'
  const legacySum = md5(legacy.replaceAll('\r\n', '\n'))
  put(root, `.dvc/cache/${legacySum.slice(0, 2)}/${legacySum.slice(2)}`, legacy)
  put(root, 'data/legacy.csv.dvc', `outs:\n- md5: ${legacySum}\n  size: ${legacy.length}\n  path: legacy.csv\n`)
  put(root, 'data/.gitignore', '/raw.csv\n/images\n/extra.bin\n/remote.csv\n/lost\n/legacy.csv\n/gone.csv\n')

  // corrupt: the cache file's bytes are not what its name (the md5) says
  const extraSum = md5('the real bytes')
  cache(root, 'bit rot', extraSum)
  put(root, 'data/extra.bin.dvc', `outs:\n- md5: ${extraSum}\n  size: 14\n  hash: md5\n  path: extra.bin\n`)
  put(root, 'data/remote.csv.dvc', `md5: ${md5('x')}\nfrozen: true\ndeps:\n- path: remote.csv\n  repo:\n    url: https://example.com/data-registry\n    rev_lock: ${'a'.repeat(40)}\nouts:\n- md5: ${md5('remote data')}\n  size: 11\n  hash: md5\n  path: remote.csv\n`)
  put(root, 'data/gone.csv.dvc', `outs:\n- md5: ${md5('never cached')}\n  size: 12\n  hash: md5\n  path: gone.csv\n`)
  put(root, 'data/lost.dvc', `outs:\n- md5: ${md5('no manifest')}.dir\n  size: 4\n  nfiles: 1\n  hash: md5\n  path: lost\n`)

  put(root, 'prepare.js', PREPARE)
  put(root, 'train.js', TRAIN)
  put(root, 'params.yaml', 'prepare:\n  rows: 5\ntrain:\n  lr: 0.1\n')
  // eslint-disable-next-line no-template-curly-in-string -- DVC's interpolation, not a JS template
  const [rows, lr] = ['${prepare.rows}', '${train.lr}']
  put(root, 'dvc.yaml', [
    'stages:',
    '  prepare:',
    `    cmd: node prepare.js ${rows}`,
    '    deps: [data/raw.csv, prepare.js]',
    '    params: [prepare.rows]',
    '    outs: [prepared.csv]',
    '  train:',
    `    cmd: node train.js ${lr}`,
    '    deps: [prepared.csv, data/images, train.js]',
    '    params: [train.lr]',
    '    outs: [model.bin]',
    '    metrics:',
    '    - metrics.json:',
    '        cache: false',
    ''
  ].join('\n'))
  const prepared = raw.split('\n').slice(0, 5).join('\n') + '\n'
  const model = `model lr=0.1 ${prepared.length}`
  const metrics = JSON.stringify({ lr: 0.1 })
  put(root, 'model.bin', model)
  put(root, 'metrics.json', metrics)
  const dep = (path: string, data: string): string => `    - path: ${path}\n      hash: md5\n      md5: ${md5(data)}\n      size: ${data.length}\n`
  put(root, 'dvc.lock', 'schema: \'2.0\'\nstages:\n' +
    `  prepare:\n    cmd: node prepare.js 5\n    deps:\n${dep('data/raw.csv', raw)}${dep('prepare.js', PREPARE)}    params:\n      params.yaml:\n        prepare.rows: 5\n    outs:\n    - path: prepared.csv\n      hash: md5\n      md5: ${cache(root, prepared)}\n      size: ${prepared.length}\n` +
    `  train:\n    cmd: node train.js 0.1\n    deps:\n${dep('prepared.csv', prepared)}    - path: data/images\n      hash: md5\n      md5: ${manifest.md5}\n      size: 16\n      nfiles: 2\n${dep('train.js', TRAIN)}    params:\n      params.yaml:\n        train.lr: 0.1\n    outs:\n${dep('metrics.json', metrics)}${dep('model.bin', model)}`)
  put(root, '.gitignore', '/prepared.csv\n/model.bin\n')
  cache(root, model)
  git(root, 'add', '-A')
  git(root, '-c', 'user.email=t@example.com', '-c', 'user.name=t', 'commit', '-q', '-m', 'dvc project')
  return { root, sums: { 'data/raw.csv': md5(raw), 'prepared.csv': md5(prepared), 'model.bin': md5(model) } }
}

describe('mlp migrate', () => {
  it('brings a DVC 3 project over: status clean, repro runs nothing, a teammate pulls it', async () => {
    const { root, sums } = await dvcProject()
    expect(existsSync(join(root, 'data/raw.csv'))).toBe(false)

    const init = await mlp(d.home, ['init'], { cwd: root })
    expect(init.stdout).toContain('mlp migrate')

    const first = await mlpJson(d.home, ['migrate'], { cwd: root })
    expect(first.changed).toBe(true)
    const byPath = Object.fromEntries(first.outs.map((o: { path: string }) => [o.path, o]))
    expect(byPath['data/raw.csv']).toMatchObject({ from: 'cache', state: 'imported', source: 'data/raw.csv.dvc' })
    expect(byPath['data/images']).toMatchObject({ from: 'workspace', state: 'imported' })
    expect(byPath['prepared.csv']).toMatchObject({ from: 'cache', source: 'dvc.lock:prepare' })
    expect(byPath['data/legacy.csv']).toMatchObject({ from: 'cache', state: 'imported' })
    expect(readFileSync(join(root, 'data/legacy.csv'), 'utf8')).toBe('x,y\r\n1,2\r\n')
    expect(first.stages).toEqual([{ stage: 'prepare', state: 'written' }, { stage: 'train', state: 'written' }])
    const problems = Object.fromEntries(first.problems.map((p: { path: string, reason: string }) => [p.path, p.reason]))
    expect(Object.keys(problems).sort()).toEqual(['data/extra.bin', 'data/gone.csv', 'data/lost', 'data/remote.csv'])
    expect(problems['data/extra.bin']).toMatch(/md5 mismatch/)
    expect(problems['data/remote.csv']).toMatch(/dvc import/)
    expect(problems['data/lost']).toMatch(/manifest .* missing/)
    expect(problems['data/gone.csv']).toMatch(/missing from the workspace and from the DVC cache/)
    // what failed its check is neither imported nor written anywhere
    expect(existsSync(join(root, 'data/extra.bin'))).toBe(false)
    expect(existsSync(join(root, 'data/extra.bin.mlp'))).toBe(false)
    // what was only in the cache is in the workspace now, byte for byte
    expect(md5(readFileSync(join(root, 'data/raw.csv')))).toBe(sums['data/raw.csv'])
    expect(md5(readFileSync(join(root, 'prepared.csv')))).toBe(sums['prepared.csv'])
    expect(existsSync(join(root, 'data/raw.csv.mlp'))).toBe(true)
    expect(existsSync(join(root, 'data/images.mlp'))).toBe(true)
    // the DVC files stay
    expect(git(root, 'status', '--porcelain', '--', '*.dvc', 'dvc.lock', 'dvc.yaml')).toBe('')

    const st = await mlpJson(d.home, ['status'], { cwd: root })
    expect(st.stages).toEqual([])
    expect(st.outs.length).toBe(5)
    expect(st.outs.every((o: { state: string }) => o.state === 'unchanged')).toBe(true)
    expect(statuses(await mlpJson<Outcome[]>(d.home, ['repro'], { cwd: root }))).toEqual({ prepare: 'skipped', train: 'skipped' })
    expect(existsSync(join(root, 'runs.log'))).toBe(false)

    // again: nothing changes, and it says so; the same four are still reported
    const lockBefore = readFileSync(join(root, 'mlp.lock'), 'utf8')
    const again = await mlpJson(d.home, ['migrate'], { cwd: root })
    expect(again.changed).toBe(false)
    expect(again.outs.every((o: { state: string }) => o.state === 'unchanged')).toBe(true)
    expect(again.stages.every((s: { state: string }) => s.state === 'unchanged')).toBe(true)
    expect(again.problems).toHaveLength(4)
    expect(readFileSync(join(root, 'mlp.lock'), 'utf8')).toBe(lockBefore)
    expect((await mlp(d.home, ['migrate'], { cwd: root })).stdout).toContain('already migrated')

    // a teammate clones the migrated repository and pulls the data
    git(root, 'add', '-A')
    git(root, '-c', 'user.email=t@example.com', '-c', 'user.name=t', 'commit', '-q', '-m', 'mlp migrate')
    await mlpJson(mate.home, ['peers', 'add', d.addrs[0]])
    const clone = join(await tempDir(), 'clone')
    git(root, 'clone', '-q', root, clone)
    expect(existsSync(join(clone, 'data/raw.csv'))).toBe(false)
    await mlpJson(mate.home, ['pull'], { cwd: clone })
    for (const f of ['data/raw.csv', 'data/legacy.csv', 'data/images/a.txt', 'data/images/sub/b.txt', 'prepared.csv', 'model.bin']) {
      expect(sha256(join(clone, f))).toBe(sha256(join(root, f)))
    }
    expect(md5(readFileSync(join(clone, 'model.bin')))).toBe(sums['model.bin'])
    expect((await mlpJson(mate.home, ['status'], { cwd: clone })).stages).toEqual([])

    // positive control: a param of train reruns exactly train
    writeFileSync(join(root, 'params.yaml'), 'prepare:\n  rows: 5\ntrain:\n  lr: 0.2\n')
    expect(statuses(await mlpJson<Outcome[]>(d.home, ['repro'], { cwd: root }))).toEqual({ prepare: 'skipped', train: 'ran' })
    expect(readFileSync(join(root, 'runs.log'), 'utf8')).toBe('train\n')
  })

  it('a float param with an integral value (lr: 1.0) renders as DVC rendered it: nothing reruns', async () => {
    const root = await tempDir('mlp-dvc-float-')
    git(root, 'init', '-q')
    put(root, '.dvc/config', '')
    put(root, '.dvc/.gitignore', '/config.local\n/tmp\n/cache\n')
    // the command line as the script saw it
    const train = "const fs = require('fs'); fs.appendFileSync('runs.log', 'train\\n'); fs.writeFileSync('model.bin', 'model lr=' + process.argv[2])\n"
    put(root, 'train.js', train)
    put(root, 'params.yaml', 'train:\n  lr: 1.0\n')
    // eslint-disable-next-line no-template-curly-in-string -- DVC's interpolation, not a JS template
    put(root, 'dvc.yaml', 'stages:\n  train:\n    cmd: node train.js ${train.lr}\n    deps: [train.js]\n    params: [train.lr]\n    outs: [model.bin]\n')
    // what `dvc repro` ran and recorded: Python's str(1.0), while the recorded param is the number
    const model = 'model lr=1.0'
    put(root, 'model.bin', model)
    const dep = (path: string, data: string): string => `    - path: ${path}\n      hash: md5\n      md5: ${md5(data)}\n      size: ${data.length}\n`
    put(root, 'dvc.lock', `schema: '2.0'\nstages:\n  train:\n    cmd: node train.js 1.0\n    deps:\n${dep('train.js', train)}    params:\n      params.yaml:\n        train.lr: 1.0\n    outs:\n${dep('model.bin', model)}`)
    cache(root, model)
    put(root, '.gitignore', '/model.bin\n')

    const migrated = await mlpJson(d.home, ['migrate'], { cwd: root })
    expect(migrated.problems).toEqual([])
    expect(migrated.stages).toEqual([{ stage: 'train', state: 'written' }])
    expect(readFileSync(join(root, 'mlp.lock'), 'utf8')).toContain('node train.js 1.0')
    expect((await mlpJson(d.home, ['status'], { cwd: root })).stages).toEqual([])
    expect(statuses(await mlpJson<Outcome[]>(d.home, ['repro'], { cwd: root }))).toEqual({ train: 'skipped' })
    expect(existsSync(join(root, 'runs.log'))).toBe(false)

    // positive control: another float reruns it, and the command gets Python's form of it
    writeFileSync(join(root, 'params.yaml'), 'train:\n  lr: 2.0\n')
    expect(statuses(await mlpJson<Outcome[]>(d.home, ['repro'], { cwd: root }))).toEqual({ train: 'ran' })
    expect(readFileSync(join(root, 'runs.log'), 'utf8')).toBe('train\n')
    expect(readFileSync(join(root, 'model.bin'), 'utf8')).toBe('model lr=2.0')
  })

  it('refuses a repository without .dvc/ and changes nothing', async () => {
    const root = await tempDir('mlp-nodvc-')
    git(root, 'init', '-q')
    const r = await mlp(d.home, ['migrate'], { cwd: root })
    expect(r.code).not.toBe(0)
    expect(r.stderr).toMatch(/not a DVC repository/)
    expect(existsSync(join(root, '.mlp'))).toBe(false)
    // positive control: the same repository with .dvc/ migrates (and becomes an mlp project)
    mkdirSync(join(root, '.dvc'))
    const ok = await mlpJson(d.home, ['migrate'], { cwd: root })
    expect(ok).toMatchObject({ outs: [], stages: [], problems: [] })
    expect(existsSync(join(root, '.mlp'))).toBe(true)
    rmSync(join(root, '.dvc'), { recursive: true })
  })
})
