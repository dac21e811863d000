import { utimesSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { execFileSync } from 'node:child_process'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { mlp, mlpJson, tempDir } from './helpers/cli.js'
import { DaemonPool, type TestDaemon } from './helpers/daemons.js'
import { newProject } from './helpers/project.js'
import { runs, writeFourStagePipeline } from './helpers/pipeline.js'

const pool = new DaemonPool()
let d: TestDaemon
beforeAll(async () => { d = await pool.start() })
afterAll(async () => { await pool.cleanup() })

interface Outcome { stage: string, status: string, reasons: string[], from?: string }
const statuses = (o: Outcome[]): Record<string, string> => Object.fromEntries(o.map((x) => [x.stage, x.status]))

describe('mlp repro', () => {
  it('reruns exactly what changed, and nothing when nothing did', async () => {
    const proj = await newProject(d.home)
    writeFourStagePipeline(proj)
    const first = await mlpJson<Outcome[]>(d.home, ['repro'], { cwd: proj })
    expect(statuses(first)).toEqual({ prepare: 'ran', split: 'ran', train: 'ran', evaluate: 'ran' })
    expect(runs(proj)).toEqual(['prepare', 'split', 'train', 'evaluate'])
    const lock = readFileSync(join(proj, 'mlp.lock'), 'utf8')
    expect(lock).toContain('train.lr: 0.1')
    expect(lock).toContain('cmd: node train.js 0.1')
    expect(lock).toMatch(/ran_on: 12D3KooW/)

    // nothing changed: nothing runs
    const second = await mlpJson<Outcome[]>(d.home, ['repro'], { cwd: proj })
    expect(statuses(second)).toEqual({ prepare: 'skipped', split: 'skipped', train: 'skipped', evaluate: 'skipped' })
    expect(runs(proj)).toHaveLength(4)

    // touched but unchanged: nothing runs
    utimesSync(join(proj, 'raw.csv'), new Date(), new Date())
    await mlpJson(d.home, ['repro'], { cwd: proj })
    expect(runs(proj)).toHaveLength(4)

    // a param of train: train and what follows
    writeFileSync(join(proj, 'params.yaml'), 'split:\n  ratio: 0.8\ntrain:\n  lr: 0.2\n  epochs: 3\n')
    const st = await mlpJson(d.home, ['status'], { cwd: proj })
    expect(st.stages).toEqual([{ stage: 'train', reasons: ['cmd changed', 'param changed: train.lr'] }])
    await mlpJson(d.home, ['repro'], { cwd: proj })
    expect(runs(proj).slice(4)).toEqual(['train', 'evaluate'])

    // a changed dep: that stage and downstream
    writeFileSync(join(proj, 'raw.csv'), Array.from({ length: 200 }, (_, i) => `${i},${(i * 41) % 103}`).join('\n') + '\n')
    await mlpJson(d.home, ['repro'], { cwd: proj })
    expect(runs(proj).slice(6)).toEqual(['prepare', 'split', 'train', 'evaluate'])

    // a changed cmd: only that stage
    writeFileSync(join(proj, 'mlp.yaml'), readFileSync(join(proj, 'mlp.yaml'), 'utf8').replace('rows:40', 'rows:40,v:2'))
    await mlpJson(d.home, ['repro'], { cwd: proj })
    expect(runs(proj).slice(10)).toEqual(['evaluate'])

    // a dep changed in a way that leaves the output the same: downstream is skipped
    writeFileSync(join(proj, 'raw.csv'), readFileSync(join(proj, 'raw.csv'), 'utf8').split('\n').reverse().join('\n').trim() + '\n')
    const same = await mlpJson<Outcome[]>(d.home, ['repro'], { cwd: proj })
    expect(statuses(same)).toEqual({ prepare: 'ran', split: 'skipped', train: 'skipped', evaluate: 'skipped' })

    const metrics = await mlpJson<Array<{ key: string, value: unknown }>>(d.home, ['metrics', 'show'], { cwd: proj })
    expect(metrics.find((m) => m.key === 'rows')?.value).toBe(40)
  })

  it('a failing stage stops its dependents, names itself, and keeps earlier lock entries', async () => {
    const proj = await newProject(d.home)
    writeFileSync(join(proj, 'in.txt'), 'x\n')
    writeFileSync(join(proj, 'mlp.yaml'), `stages:
  ok:
    cmd: cp in.txt mid.txt
    deps: [in.txt]
    outs: [mid.txt]
  boom:
    cmd: echo "the model diverged" >&2 && exit 3
    deps: [mid.txt]
    outs: [never.txt]
  after:
    cmd: cp never.txt final.txt
    deps: [never.txt]
    outs: [final.txt]
`)
    const r = await mlp(d.home, ['repro'], { cwd: proj })
    expect(r.code).not.toBe(0)
    expect(r.stderr).toContain("Error: stage 'boom' failed: command exited with code 3")
    expect(r.stderr).toContain('the model diverged')
    expect(r.stdout).toContain('after not run')
    const lock = readFileSync(join(proj, 'mlp.lock'), 'utf8')
    expect(lock).toContain('  ok:')
    expect(lock).not.toContain('boom')
  })

  it('restores outputs from the run cache after a revert, without running', async () => {
    const proj = await newProject(d.home)
    writeFourStagePipeline(proj)
    await mlpJson(d.home, ['repro'], { cwd: proj })
    const model1 = readFileSync(join(proj, 'model.json'), 'utf8')
    writeFileSync(join(proj, 'params.yaml'), 'split:\n  ratio: 0.8\ntrain:\n  lr: 0.5\n  epochs: 3\n')
    await mlpJson(d.home, ['repro'], { cwd: proj })
    expect(readFileSync(join(proj, 'model.json'), 'utf8')).not.toBe(model1)
    const before = runs(proj).length
    writeFileSync(join(proj, 'params.yaml'), 'split:\n  ratio: 0.8\ntrain:\n  lr: 0.1\n  epochs: 3\n')
    const back = await mlpJson<Outcome[]>(d.home, ['repro'], { cwd: proj })
    expect(back.find((o) => o.stage === 'train')).toMatchObject({ status: 'restored', from: 'local run cache' })
    expect(runs(proj)).toHaveLength(before)
    expect(readFileSync(join(proj, 'model.json'), 'utf8')).toBe(model1)
    const human = await mlp(d.home, ['repro', '--force', '--no-run-cache', 'train'], { cwd: proj })
    expect(human.code).toBe(0)
    expect(runs(proj).length).toBeGreaterThan(before)
  })

  it("a teammate's repro restores a stage another daemon already ran", async () => {
    const [a, b] = [await pool.start(), await pool.start()]
    await mlpJson(b.home, ['peers', 'add', a.addrs[0]])
    // run-cache entries are believed only from signers trusted with --results
    await mlpJson(b.home, ['trust', 'add', a.peerId, '--results'])
    const proj = await newProject(a.home)
    writeFourStagePipeline(proj)
    await mlpJson(a.home, ['repro'], { cwd: proj })
    execFileSync('git', ['add', '-A'], { cwd: proj })
    execFileSync('git', ['-c', 'user.email=t@t', '-c', 'user.name=t', 'commit', '-qm', 'pipeline'], { cwd: proj })
    const clone = join(await tempDir(), 'clone')
    execFileSync('git', ['clone', '-q', proj, clone])
    const r = await mlp(b.home, ['repro'], { cwd: clone })
    expect(r.code).toBe(0)
    expect(r.stdout).toContain(`restored prepare from ${a.peerId}`)
    expect(r.stdout).toContain(`restored train from ${a.peerId}`)
    expect(runs(clone)).toEqual([])
    expect(readFileSync(join(clone, 'model.json'), 'utf8')).toBe(readFileSync(join(proj, 'model.json'), 'utf8'))
  })
})

describe('pipeline files', () => {
  it('foreach, matrix and vars expand to the names and commands DVC produces', async () => {
    const proj = await newProject(d.home)
    writeFileSync(join(proj, 'params.yaml'), 'models:\n  cnn: {layers: 3}\n  rnn: {layers: 2}\nseed: 7\n')
    writeFileSync(join(proj, 'mlp.yaml'), `vars:
  - base: out
stages:
  simple:
    foreach: [a, b]
    do:
      cmd: echo \${item} \${seed}
      outs: ["\${base}/\${item}.txt"]
  listed:
    foreach:
      - {n: 1}
      - {n: 2}
    do:
      cmd: echo \${item.n}
  keyed:
    foreach: \${models}
    do:
      cmd: train --model \${key} --layers \${item.layers}
  grid:
    matrix:
      opt: [sgd, adam]
      lr: [0.1, 1]
      flag: [true]
    cmd: fit \${item.opt} \${item.lr} \${item.flag}
`)
    const dag = await mlpJson<{ stages: Array<{ name: string, cmd: string, outs: string[] }> }>(d.home, ['dag'], { cwd: proj })
    expect(dag.stages.map((s) => [s.name, s.cmd])).toEqual([
      ['simple@a', 'echo a 7'],
      ['simple@b', 'echo b 7'],
      ['listed@0', 'echo 1'],
      ['listed@1', 'echo 2'],
      ['keyed@cnn', 'train --model cnn --layers 3'],
      ['keyed@rnn', 'train --model rnn --layers 2'],
      ['grid@sgd-0.1-true', 'fit sgd 0.1 true'],
      ['grid@sgd-1-true', 'fit sgd 1 true'],
      ['grid@adam-0.1-true', 'fit adam 0.1 true'],
      ['grid@adam-1-true', 'fit adam 1 true']
    ])
    expect(dag.stages[0].outs).toEqual(['out/a.txt'])
  })

  it('a dvc.yaml with no mlp.yaml is read as the pipeline', async () => {
    const proj = await newProject(d.home)
    writeFileSync(join(proj, 'in.txt'), 'hi\n')
    writeFileSync(join(proj, 'dvc.yaml'), 'stages:\n  copy:\n    cmd: cp in.txt out.txt\n    deps: [in.txt]\n    outs: [out.txt]\n')
    const r = await mlpJson<Outcome[]>(d.home, ['repro'], { cwd: proj })
    expect(r).toMatchObject([{ stage: 'copy', status: 'ran' }])
    expect(readFileSync(join(proj, 'out.txt'), 'utf8')).toBe('hi\n')
  })

  it('cycles, duplicate outs, syntax errors and unknown keys get one clear error each', async () => {
    const proj = await newProject(d.home)
    const cases: Array<[string, RegExp]> = [
      ['stages:\n  a:\n    cmd: x\n    deps: [b.txt]\n    outs: [a.txt]\n  b:\n    cmd: y\n    deps: [a.txt]\n    outs: [b.txt]\n', /cycle: a -> b -> a|cycle: b -> a -> b/],
      ['stages:\n  a:\n    cmd: x\n    outs: [same.txt]\n  b:\n    cmd: y\n    outs: [same.txt]\n', /mlp\.yaml:5: stage 'b': out 'same.txt' is also an out of stage 'a'/],
      ['stages:\n  a:\n    cmd: [x\n', /mlp\.yaml:\d+: not valid YAML/],
      ['stages:\n  a:\n    cmd: x\n    outz: [a.txt]\n', /mlp\.yaml:4: stage 'a': unknown key 'outz'/],
      ['stages:\n  a:\n    cmd: x\n    deps: [nowhere.txt]\n', /stage 'a': dep 'nowhere.txt' does not exist and no stage writes it/]
    ]
    for (const [yaml, message] of cases) {
      writeFileSync(join(proj, 'mlp.yaml'), yaml)
      const r = await mlp(d.home, ['repro'], { cwd: proj })
      expect(r.code, yaml).not.toBe(0)
      expect(r.stderr.trim().split('\n'), yaml).toHaveLength(1)
      expect(r.stderr, yaml).toMatch(message)
    }
  })

  it('stage add writes mlp.yaml that dag reads; deps need not exist for dag', async () => {
    const proj = await newProject(d.home)
    const added = await mlpJson(d.home, ['stage', 'add', '-n', 'prepare', '-d', 'data/raw', '-d', 'prepare.py', '-o', 'data/clean', 'python', 'prepare.py'], { cwd: proj })
    expect(added.stage).toBe('prepare')
    await mlpJson(d.home, ['stage', 'add', '-n', 'train', '-d', 'data/clean', '-p', 'train.lr', '-o', 'model.pt', '-m', 'metrics.json', '--gpu', '1', 'python', 'train.py'], { cwd: proj })
    const yaml = readFileSync(join(proj, 'mlp.yaml'), 'utf8')
    expect(yaml).toContain('cmd: python train.py')
    expect(yaml).toContain('gpu: 1')
    const dag = await mlpJson(d.home, ['dag'], { cwd: proj })
    expect(dag).toEqual({
      stages: [
        { name: 'prepare', cmd: 'python prepare.py', deps: ['data/raw', 'prepare.py'], outs: ['data/clean'], params: [] },
        { name: 'train', cmd: 'python train.py', deps: ['data/clean'], outs: ['model.pt', 'metrics.json'], params: [{ file: 'params.yaml', keys: ['train.lr'] }] }
      ],
      edges: [['prepare', 'train']]
    })
    const dup = await mlp(d.home, ['stage', 'add', '-n', 'train', 'echo'], { cwd: proj })
    expect(dup.stderr).toContain("stage 'train' already exists")
  })
})

describe('repro options', () => {
  it('-j 2 runs independent stages at the same time', async () => {
    const proj = await newProject(d.home)
    // each stage waits (bounded) for the other to have started: only possible if both run at once
    const wait = (mine: string, other: string): string => `touch ${mine}.started && i=0 && while [ ! -f ${other}.started ] && [ $i -lt 200 ]; do sleep 0.05; i=$((i+1)); done && test -f ${other}.started && echo ${mine} > ${mine}.txt`
    writeFileSync(join(proj, 'mlp.yaml'), `stages:\n  a:\n    cmd: ${wait('a', 'b')}\n    outs: [a.txt]\n  b:\n    cmd: ${wait('b', 'a')}\n    outs: [b.txt]\n`)
    const r = await mlpJson<Outcome[]>(d.home, ['repro', '-j', '2'], { cwd: proj })
    expect(statuses(r)).toEqual({ a: 'ran', b: 'ran' })
  })

  it('--keep-going runs stages that do not depend on a failure; --downstream picks what follows', async () => {
    const proj = await newProject(d.home)
    writeFileSync(join(proj, 'mlp.yaml'), `stages:
  bad:
    cmd: exit 1
    outs: [bad.txt]
  good:
    cmd: echo ok > good.txt
    outs: [good.txt]
  next:
    cmd: cp good.txt next.txt
    deps: [good.txt]
    outs: [next.txt]
`)
    const r = await mlp(d.home, ['repro', '--keep-going', '--json'], { cwd: proj })
    expect(r.code).not.toBe(0)
    expect(readFileSync(join(proj, 'next.txt'), 'utf8')).toBe('ok\n')
    writeFileSync(join(proj, 'mlp.yaml'), readFileSync(join(proj, 'mlp.yaml'), 'utf8').replace('exit 1', 'echo fixed > bad.txt'))
    const down = await mlpJson<Outcome[]>(d.home, ['repro', '--downstream', 'good', '--force'], { cwd: proj })
    expect(down.map((o) => o.stage)).toEqual(['good', 'next'])
    // -s: only the named stage, not what it depends on (without -s, good reruns too: the control)
    const single = await mlpJson<Outcome[]>(d.home, ['repro', '-s', '-f', 'next'], { cwd: proj })
    expect(statuses(single)).toEqual({ next: 'ran' })
    const withUpstream = await mlpJson<Outcome[]>(d.home, ['repro', '-f', 'next'], { cwd: proj })
    expect(statuses(withUpstream)).toEqual({ good: 'ran', next: 'ran' })
  })

  it('Ctrl-C stops the running stage (its whole process group) and keeps the lock consistent', async () => {
    const proj = await newProject(d.home)
    writeFileSync(join(proj, 'mlp.yaml'), `stages:
  quick:
    cmd: echo q > q.txt
    outs: [q.txt]
  slow:
    cmd: sh -c 'echo $$ > child.pid; sleep 60' && echo never > s.txt
    deps: [q.txt]
    outs: [s.txt]
`)
    const { spawn } = await import('node:child_process')
    const { MLP_BIN, waitFor, alive } = await import('./helpers/cli.js')
    const child = spawn(process.execPath, [MLP_BIN, 'repro'], { cwd: proj, env: { ...process.env, MLP_HOME: d.home, NODE_ENV: '' }, stdio: ['ignore', 'pipe', 'pipe'] })
    const { existsSync } = await import('node:fs')
    await waitFor('the slow stage to start', () => existsSync(join(proj, 'child.pid')), 20_000)
    const pid = Number(readFileSync(join(proj, 'child.pid'), 'utf8'))
    child.kill('SIGINT')
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve))
    expect(code).not.toBe(0)
    await waitFor('the stage process to be killed', () => !alive(pid), 15_000)
    const lock = readFileSync(join(proj, 'mlp.lock'), 'utf8')
    expect(lock).toContain('quick:')
    expect(lock).not.toContain('slow:')
  })

  it('params diff and metrics diff compare with a git revision', async () => {
    const proj = await newProject(d.home)
    writeFourStagePipeline(proj)
    await mlpJson(d.home, ['repro'], { cwd: proj })
    execFileSync('git', ['add', '-A'], { cwd: proj })
    execFileSync('git', ['-c', 'user.email=t@t', '-c', 'user.name=t', 'commit', '-qm', 'v1'], { cwd: proj })
    writeFileSync(join(proj, 'params.yaml'), 'split:\n  ratio: 0.8\ntrain:\n  lr: 0.3\n  epochs: 3\n')
    await mlpJson(d.home, ['repro'], { cwd: proj })
    const params = await mlpJson(d.home, ['params', 'diff'], { cwd: proj })
    expect(params).toEqual([{ file: 'params.yaml', key: 'train.lr', old: 0.1, new: 0.3 }])
    const metrics = await mlpJson<Array<{ key: string }>>(d.home, ['metrics', 'diff', 'HEAD'], { cwd: proj })
    expect(metrics.map((m) => m.key)).toEqual(['w'])
  })
})

describe('stage add --run', () => {
  it('adds the stage and runs it', async () => {
    const proj = await newProject(d.home)
    writeFileSync(join(proj, 'in.txt'), 'data\n')
    const r = await mlp(d.home, ['stage', 'add', '--run', '-n', 'copy', '-d', 'in.txt', '-o', 'out.txt', 'cp', 'in.txt', 'out.txt'], { cwd: proj })
    expect(r.code).toBe(0)
    expect(r.stdout).toContain('copy: ran')
    expect(readFileSync(join(proj, 'out.txt'), 'utf8')).toBe('data\n')
    expect(readFileSync(join(proj, 'mlp.lock'), 'utf8')).toContain('copy:')
  })
})

describe('lock file safety', () => {
  it('a lock entry with .. or an absolute path is rejected', async () => {
    const proj = await newProject(d.home)
    writeFileSync(join(proj, 'in.txt'), 'x\n')
    writeFileSync(join(proj, 'mlp.yaml'), 'stages:\n  copy:\n    cmd: cp in.txt out.txt\n    deps: [in.txt]\n    outs: [out.txt]\n')
    for (const bad of ['../../etc/passwd', '/etc/passwd']) {
      writeFileSync(join(proj, 'mlp.lock'), `schema: '2.0'\nstages:\n  copy:\n    cmd: cp in.txt out.txt\n    outs:\n      - path: ${bad}\n        cid: bafkr4ihkr4ld3m4gqkjf4reryxsy2s5tkbxprqkow6fin2iiyvreuzzab4\n        size: 1\n`)
      const r = await mlp(d.home, ['repro'], { cwd: proj })
      expect(r.code, bad).not.toBe(0)
      expect(r.stderr, bad).toContain('must be relative and stay inside the project')
    }
  })
})
