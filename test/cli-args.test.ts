import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { mlp, mlpJson, tempDir } from './helpers/cli.js'
import { DaemonPool, type TestDaemon } from './helpers/daemons.js'
import { newProject, sha256, writeRandom } from './helpers/project.js'

// Positional args come from oclif's parse: flags go before or after targets,
// a flag's value is never a target, and `--` ends the flags.

const pool = new DaemonPool()
let a: TestDaemon
let b: TestDaemon
beforeAll(async () => {
  [a, b] = [await pool.start(), await pool.start()]
  await mlpJson(b.home, ['peers', 'add', a.addrs[0]])
})
afterAll(async () => { await pool.cleanup() })

/**
 * `mlp <words> --json <rest>`: `--json` before the args, since after `--`
 * it would be one more path (mlpJson appends it at the end).
 */
async function json<T = any> (home: string, words: string[], rest: string[], cwd?: string): Promise<T> {
  const r = await mlp(home, [...words, '--json', ...rest], { cwd })
  expect(r.code, `mlp ${[...words, ...rest].join(' ')}: ${r.stderr}`).toBe(0)
  return JSON.parse(r.stdout) as T
}

/** A refused command line: non-zero exit, exactly one line on stderr. */
async function refused (home: string, args: string[], cwd?: string): Promise<string> {
  const r = await mlp(home, args, { cwd })
  expect(r.code, `mlp ${args.join(' ')} should fail: ${r.stdout}`).not.toBe(0)
  const lines = r.stderr.trim().split('\n')
  expect(lines, r.stderr).toHaveLength(1)
  return lines[0]
}

describe('-- ends the flags', () => {
  it('a file named -x.bin is added, shown, checked out and removed after --', async () => {
    const proj = await newProject(a.home)
    const file = join(proj, '-x.bin')
    writeRandom(file, 50_000)
    const sum = sha256(file)

    // negative control: without --, the name is a flag mlp does not have, and nothing is tracked
    expect(await refused(a.home, ['add', '-x.bin'], proj)).toBe('Error: Nonexistent flag: -x.bin (see mlp add --help)')
    expect(existsSync(join(proj, '-x.bin.mlp'))).toBe(false)

    const [added] = await json(a.home, ['add'], ['--', '-x.bin'], proj)
    expect(added).toMatchObject({ path: '-x.bin', pointer: '-x.bin.mlp' })
    expect(existsSync(join(proj, '-x.bin.mlp'))).toBe(true)

    const st = await json(a.home, ['status'], ['--', '-x.bin'], proj)
    expect(st.outs).toEqual([expect.objectContaining({ path: '-x.bin', state: 'unchanged' })])

    rmSync(file)
    const missing = await json(a.home, ['status'], ['--', '-x.bin'], proj)
    expect(missing.outs).toEqual([expect.objectContaining({ path: '-x.bin', state: 'missing' })])
    const [out] = await json(a.home, ['checkout'], ['--', '-x.bin'], proj)
    expect(out).toMatchObject({ path: '-x.bin', written: 1 })
    expect(sha256(file)).toBe(sum)

    const [removed] = await json(a.home, ['remove'], ['--', '-x.bin'], proj)
    expect(removed).toMatchObject({ path: '-x.bin' })
    expect(existsSync(join(proj, '-x.bin.mlp'))).toBe(false)
    // the data itself is kept
    expect(sha256(file)).toBe(sum)
  })

  it('stage add keeps the command\'s own flags after --, and refuses them without it', async () => {
    const proj = await newProject(a.home)
    // the command prints its arguments one a line: its flags must reach it intact, words kept apart
    const words = ['sh', '-c', 'printf "%s\\n" "$@" > out.txt', 'sh', '--lr', '0.1', '-o', 'two words']
    const added = await json(a.home, ['stage', 'add'], ['-n', 'echo', '-o', 'out.txt', '--', ...words], proj)
    expect(added.stage).toBe('echo')
    const dag = await mlpJson(a.home, ['dag'], { cwd: proj })
    expect(dag.stages).toEqual([expect.objectContaining({ name: 'echo', outs: ['out.txt'], cmd: 'sh -c \'printf "%s\\n" "$@" > out.txt\' sh --lr 0.1 -o \'two words\'' })])
    await mlpJson(a.home, ['repro'], { cwd: proj })
    expect(readFileSync(join(proj, 'out.txt'), 'utf8')).toBe('--lr\n0.1\n-o\ntwo words\n')

    // without --: a flag mlp does not know is refused, naming -- as the way
    const yaml = readFileSync(join(proj, 'mlp.yaml'), 'utf8')
    const unknown = await refused(a.home, ['stage', 'add', '-n', 'train', 'python', 'train.py', '--lr', '0.1'], proj)
    expect(unknown).toMatch(/^Error: Nonexistent flag: --lr; .*after --/)
    // and one of stage add's own, typed after the command, is not silently taken from it
    const late = await refused(a.home, ['stage', 'add', '-n', 'train', 'python', 'train.py', '-o', 'model.pt'], proj)
    expect(late).toMatch(/^Error: --outs comes after the command/)
    expect(readFileSync(join(proj, 'mlp.yaml'), 'utf8')).toBe(yaml)

    // positive control: --json may still follow a command (scripts append it)
    const plain = await mlpJson(a.home, ['stage', 'add', '-n', 'plain', '-o', 'p.txt', 'touch', 'p.txt'], { cwd: proj })
    expect(plain.stage).toBe('plain')
    const after = await mlpJson(a.home, ['dag'], { cwd: proj })
    expect(after.stages.map((s: { name: string, cmd: string }) => [s.name, s.cmd])).toEqual([['echo', dag.stages[0].cmd], ['plain', 'touch p.txt']])
  })
})

describe('flags before or after the targets', () => {
  it('fetch -o out <cid> and fetch <cid> -o out', async () => {
    const proj = await newProject(a.home)
    writeRandom(join(proj, 'data.bin'), 200_000)
    const sum = sha256(join(proj, 'data.bin'))
    const [shared] = await mlpJson(a.home, ['share', 'data.bin'], { cwd: proj })
    const dir = await tempDir()

    const [before] = await mlpJson(b.home, ['fetch', '-o', join(dir, 'before.bin'), shared.cid])
    expect(before).toMatchObject({ root: shared.cid, out: join(dir, 'before.bin') })
    const [after] = await mlpJson(b.home, ['fetch', shared.cid, '-o', join(dir, 'after.bin')])
    expect(after).toMatchObject({ root: shared.cid, out: join(dir, 'after.bin') })
    const [joined] = await mlpJson(b.home, ['fetch', `--out=${join(dir, 'joined.bin')}`, shared.cid])
    expect(joined.root).toBe(shared.cid)
    for (const f of ['before.bin', 'after.bin', 'joined.bin']) expect(sha256(join(dir, f))).toBe(sum)

    // negative controls: an unknown flag, or -o without its value, is refused and writes nothing
    expect(await refused(b.home, ['fetch', shared.cid, '-o', join(dir, 'bad.bin'), '--bogus'])).toBe('Error: Nonexistent flag: --bogus (see mlp fetch --help)')
    expect(await refused(b.home, ['fetch', shared.cid, '-o'])).toBe('Error: Flag --out expects a value (see mlp fetch --help)')
    expect(await refused(b.home, ['fetch', '-o', join(dir, 'none.bin')])).toMatch(/^Error: missing argument: targets /)
    expect(existsSync(join(dir, 'bad.bin'))).toBe(false)
    expect(existsSync(join(dir, 'none.bin'))).toBe(false)
  })

  it('push a.bin --to <peer> and push --to <peer> b.bin push just that file', async () => {
    const proj = await newProject(a.home)
    writeRandom(join(proj, 'a.bin'), 100_000)
    writeRandom(join(proj, 'b.bin'), 100_000)
    const [ca, cb] = (await mlpJson(a.home, ['add', 'a.bin', 'b.bin'], { cwd: proj })).map((x: { cid: string }) => x.cid)

    const first = await mlpJson(a.home, ['push', 'a.bin', '--to', b.peerId], { cwd: proj })
    expect(first).toMatchObject({ roots: [ca], to: b.peerId, replicated: true })
    const second = await mlpJson(a.home, ['push', '--to', b.peerId, 'b.bin'], { cwd: proj })
    expect(second).toMatchObject({ roots: [cb], to: b.peerId, replicated: true })
    // b now holds both: fetching them asks nobody for anything
    const fetched = await mlpJson(b.home, ['fetch', ca, cb])
    expect(fetched.map((f: { blocks: number }) => f.blocks)).toEqual([0, 0])

    // negative control: --to with no peer after it is refused, and nothing is pushed
    expect(await refused(a.home, ['push', 'a.bin', '--to'], proj)).toBe('Error: Flag --to expects a value (see mlp push --help)')
  })

  it('repro -j 2 <stage> and repro <stage> -j 2 run just that stage', async () => {
    const proj = await newProject(a.home)
    writeFileSync(join(proj, 'mlp.yaml'), [
      'stages:',
      '  one:',
      '    cmd: echo one > one.txt',
      '    outs: [one.txt]',
      '  two:',
      '    cmd: echo two > two.txt',
      '    outs: [two.txt]',
      ''
    ].join('\n'))

    // negative control: a bad value is refused in one line, and nothing runs
    expect(await refused(a.home, ['repro', 'one', '-j', '0'], proj)).toBe('Error: Parsing --jobs: Expected an integer greater than or equal to 1 but received: 0 (see mlp repro --help)')
    expect(existsSync(join(proj, 'one.txt'))).toBe(false)

    const first = await mlpJson(a.home, ['repro', '-j', '2', 'one'], { cwd: proj })
    expect(first.map((o: { stage: string, status: string }) => [o.stage, o.status])).toEqual([['one', 'ran']])
    expect(existsSync(join(proj, 'two.txt'))).toBe(false)
    const second = await mlpJson(a.home, ['repro', 'two', '-j', '2'], { cwd: proj })
    expect(second.map((o: { stage: string, status: string }) => [o.stage, o.status])).toEqual([['two', 'ran']])
    expect(readFileSync(join(proj, 'two.txt'), 'utf8')).toBe('two\n')
  })
})

describe('help and usage errors', () => {
  it('mlp help <command> and mlp <command> --help show the same usage', async () => {
    const viaHelp = await mlp(a.home, ['help', 'fetch'])
    const viaFlag = await mlp(a.home, ['fetch', '--help'])
    expect(viaHelp.code).toBe(0)
    expect(viaFlag.code).toBe(0)
    expect(viaHelp.stdout).toContain('$ mlp fetch TARGETS...')
    expect(viaFlag.stdout).toBe(viaHelp.stdout)
    const stage = await mlp(a.home, ['help', 'stage', 'add'])
    expect(stage.stdout).toContain('$ mlp stage add COMMAND...')
  })

  it('an unknown flag or command is refused in one line, with --json too', async () => {
    const proj = await newProject(a.home)
    expect(await refused(a.home, ['status', '--frobnicate'], proj)).toBe('Error: Nonexistent flag: --frobnicate (see mlp status --help)')
    const r = await mlp(a.home, ['status', '--frobnicate', '--json'], { cwd: proj })
    expect(r.code).toBe(2)
    expect(JSON.parse(r.stdout).error).toMatchObject({ name: 'UsageError' })
    expect(await refused(a.home, ['stauts'])).toBe('Error: `mlp stauts` is not an mlp command: did you mean `mlp status`? (see mlp help)')
    // positive control: the same command line without the bad flag works
    expect((await mlpJson(a.home, ['status'], { cwd: proj })).outs).toEqual([])
  })
})
