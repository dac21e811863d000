import { mkdir, mkdtemp, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { stageParams } from '../src/pipeline/params.js'
import { pyFloat, PyFloat } from '../src/pipeline/py-float.js'
import { pyNumber, renderArgs, shellQuote } from '../src/pipeline/render.js'
import { loadPipeline, type Stage } from '../src/pipeline/schema.js'

/** `${expr}` as a pipeline file writes it (kept out of template literals). */
const $ = (expr: string): string => '$' + `{${expr}}`

/** Loads `yaml` as a project's dvc.yaml, with optional params.yaml and .dvc/config. */
async function load (yaml: string, files: Record<string, string> = {}): Promise<Stage[]> {
  return (await loadIn(yaml, files)).stages
}

/** As {@link load}, also giving the project folder. */
async function loadIn (yaml: string, files: Record<string, string> = {}): Promise<{ dir: string, stages: Stage[] }> {
  const dir = await mkdtemp(join(tmpdir(), 'mlp-dvc-tpl-'))
  for (const [name, text] of Object.entries(files)) {
    await mkdir(join(dir, name, '..'), { recursive: true })
    await writeFile(join(dir, name), text)
  }
  await writeFile(join(dir, 'dvc.yaml'), yaml)
  return { dir, stages: loadPipeline(join(dir, 'dvc.yaml')).stages }
}

describe('values render as DVC renders them (Python str())', () => {
  it.each([
    [0.00001, '1e-05'],
    [0.0001, '0.0001'],
    [1.5e-7, '1.5e-07'],
    [0.1, '0.1'],
    [3, '3'],
    [-2, '-2'],
    [123456.789, '123456.789'],
    [2 ** 60, '1152921504606846976'],
    [Number.POSITIVE_INFINITY, 'inf'],
    [Number.NaN, 'nan']
  ])('%d is written %s', (n, text) => {
    expect(pyNumber(n)).toBe(text)
  })

  it.each([
    [1, '1.0'],
    [1000, '1000.0'],
    [0, '0.0'],
    [-0, '-0.0'],
    [0.5, '0.5'],
    [1e15, '1000000000000000.0'],
    [1e16, '1e+16'],
    [1.5e16, '1.5e+16'],
    [0.00001, '1e-05'],
    [-0.00001, '-1e-05'],
    [Number.POSITIVE_INFINITY, 'inf'],
    [Number.NEGATIVE_INFINITY, '-inf'],
    [Number.NaN, 'nan']
  ])('the float %d is written %s', (n, text) => {
    expect(pyFloat(n)).toBe(text)
    expect(String(new PyFloat(n))).toBe(text)
  })

  it('quotes strings for the shell only where needed', () => {
    expect(shellQuote('model.pt')).toBe('model.pt')
    expect(shellQuote('a b')).toBe("'a b'")
    expect(shellQuote("it's")).toBe('\'it\'"\'"\'s\'')
    expect(shellQuote('')).toBe("''")
  })

  it('a mapping in cmd becomes --key value arguments, per [parsing]', () => {
    const value = { lr: 0.00001, name: 'my run', nested: { depth: 3 }, amp: true, debug: false, layers: [64, 32], none: null }
    expect(renderArgs(value, { bool: 'store_true', list: 'nargs' }, 'w')).toBe("--lr 1e-05 --name 'my run' --nested.depth 3 --amp --layers 64 32 --none None")
    expect(renderArgs(value, { bool: 'boolean_optional', list: 'append' }, 'w')).toBe("--lr 1e-05 --name 'my run' --nested.depth 3 --amp --no-debug --layers 64 --layers 32 --none None")
    expect(() => renderArgs({ bad: [[1]] }, { bool: 'store_true', list: 'nargs' }, 'w')).toThrow(/nested list/)
    // a float is a scalar here, not a mapping to flatten
    expect(renderArgs({ lr: new PyFloat(1), sizes: [new PyFloat(2), 3] }, { bool: 'store_true', list: 'nargs' }, 'w')).toBe('--lr 1.0 --sizes 2.0 3')
  })
})

describe('dvc.yaml templating as DVC 3 reads it', () => {
  it('interpolates keys: an out with options per foreach item (DVC\'s documented form)', async () => {
    const stages = await load(`stages:
  train:
    foreach: [us, eu]
    do:
      cmd: python train.py --region ${$('item')}
      outs:
        - models/${$('item')}.pt:
            cache: true
      metrics:
        - ${$('item')}/metrics.json:
            cache: false
`)
    expect(stages.map((s) => s.name)).toEqual(['train@us', 'train@eu'])
    expect(stages[0].outs).toMatchObject([{ path: 'models/us.pt', cache: true, kind: 'out' }, { path: 'us/metrics.json', cache: false, kind: 'metric' }])
    expect(stages[1].outs.map((o) => o.path)).toEqual(['models/eu.pt', 'eu/metrics.json'])
  })

  it('an out named from params with options (the filename is not left as a template)', async () => {
    const stages = await load(`stages:
  build-us:
    cmd: python train.py --thresh ${$('models.us.threshold')} --out ${$('models.us.filename')}
    outs:
      - ${$('models.us.filename')}:
          cache: true
`, { 'params.yaml': "models:\n  us:\n    threshold: 10\n    filename: 'model-us.hdf5'\n" })
    expect(stages[0].cmd).toEqual(['python train.py --thresh 10 --out model-us.hdf5'])
    expect(stages[0].outs[0].path).toBe('model-us.hdf5')
  })

  it('a foreach item with \':\' is refused: t@x:fit would address stage fit and overwrite its lock entry', async () => {
    const yaml = (items: string): string => `stages:
  fit:
    cmd: echo real > model.txt
    outs: [model.txt]
  t:
    foreach: ${items}
    do:
      cmd: echo ${$('item')} > other.txt
      outs: [other.txt]
`
    // control: the same pipeline with a plain item loads
    expect((await load(yaml("['x-fit']"))).map((s) => s.name)).toEqual(['fit', 't@x-fit'])
    await expect(load(yaml("['x:fit']"))).rejects.toThrow(/foreach\/matrix item 'x:fit' cannot contain ':'/)
  })

  it('foreach over a mapping gives key and item; over a list of mappings, item fields', async () => {
    const byDict = await load(`stages:
  train:
    foreach:
      us: {lr: 0.1}
      eu: {lr: 0.00001}
    do:
      cmd: python train.py --name ${$('key')} --lr ${$('item.lr')}
      outs:
        - ${$('key')}.pt
`)
    expect(byDict.map((s) => [s.name, s.cmd[0], s.outs[0].path])).toEqual([
      ['train@us', 'python train.py --name us --lr 0.1', 'us.pt'],
      ['train@eu', 'python train.py --name eu --lr 1e-05', 'eu.pt']
    ])
    const byList = await load(`stages:
  fit:
    foreach: ${$('runs')}
    do:
      cmd: fit ${$('item.name')} ${$('item[size]')}
`, { 'params.yaml': 'runs:\n  - {name: small, size: 1}\n  - {name: big, size: 8}\n' })
    expect(byList.map((s) => [s.name, s.cmd[0]])).toEqual([['fit@0', 'fit small 1'], ['fit@1', 'fit big 8']])
  })

  it('bracket lookups, null as None, booleans lower case, and \\${ as a literal', async () => {
    const stages = await load(`stages:
  s:
    cmd: echo ${$('layers[1]')} ${$('opt')} ${$('flag')} \\${'$'}{HOME} ${$('models[us].lr')}
`, { 'params.yaml': 'layers: [64, 32]\nopt: null\nflag: false\nmodels: {us: {lr: 0.0003}}\n' })
    expect(stages[0].cmd).toEqual(['echo 32 None false ' + $('HOME') + ' 0.0003'])
  })

  it('a params mapping in cmd becomes arguments; .dvc/config [parsing] changes how', async () => {
    const yaml = `stages:\n  train:\n    cmd: python train.py ${$('train')}\n`
    const params = { 'params.yaml': 'train:\n  epochs: 5\n  amp: false\n  layers: [1, 2]\n' }
    expect((await load(yaml, params))[0].cmd).toEqual(['python train.py --epochs 5 --layers 1 2'])
    const configured = await load(yaml, { ...params, '.dvc/config': "[core]\n    remote = x\n['parsing']\n    bool = boolean_optional\n    list = append\n" })
    expect(configured[0].cmd).toEqual(['python train.py --epochs 5 --no-amp --layers 1 --layers 2'])
    await expect(load(yaml, { ...params, '.dvc/config': '[parsing]\nbool = maybe\n' })).rejects.toThrow(/\.dvc\/config:2: parsing\.bool must be/)
  })

  it('a mapping anywhere but cmd, or a list in a string, is refused with the stage named', async () => {
    await expect(load(`stages:\n  s:\n    cmd: echo\n    deps:\n      - data/${$('train')}\n`, { 'params.yaml': 'train: {a: 1}\n' })).rejects.toThrow(/stage 's'.*is a mapping and cannot be part of a string/)
    await expect(load(`stages:\n  s:\n    cmd: echo ${$('xs')}\n`, { 'params.yaml': 'xs: [1, 2]\n' })).rejects.toThrow(/is a list and cannot be part of a string/)
  })

  it('two keys that interpolate to the same path are refused', async () => {
    await expect(load(`stages:\n  s:\n    cmd: echo\n    outs:\n      - a: {cache: true}\n    metrics:\n      - m.json: {}\n    params:\n      - ${$('f')}: [x]\n      - p.yaml: [y]\n`, { 'params.yaml': 'f: p.yaml\nx: 1\n' })).resolves.toBeDefined()
    await expect(load(`stages:\n  s:\n    cmd: echo\n    outs:\n      - ${$('a')}: {cache: true}\n        ${$('b')}: {cache: false}\n`, { 'params.yaml': 'a: same\nb: same\n' })).rejects.toThrow(/interpolates to 'same', which is already a key/)
  })

  it('mlp settings under meta.mlp (which DVC ignores) work like stage keys, and both at once are refused', async () => {
    const stages = await load(`stages:
  train:
    cmd: python train.py
    meta:
      owner: ana
      mlp:
        resources: {gpu: 1, gpu_memory_mib: 8000}
`)
    expect(stages[0].resources).toEqual({ gpu: 1, gpuMemoryMib: 8000, gpuModel: undefined })
    await expect(load('stages:\n  t:\n    cmd: x\n    resources: {gpu: 1}\n    meta: {mlp: {resources: {gpu: 2}}}\n')).rejects.toThrow(/'resources' is set both in the stage and in meta\.mlp/)
    await expect(load('stages:\n  t:\n    cmd: x\n    meta: {mlp: {gpus: 2}}\n')).rejects.toThrow(/meta\.mlp: unknown key 'gpus'/)
  })

  it('a float with an integral value renders as Python writes a float (1.0), an int as an int', async () => {
    const params = 'lr: 1.0\nbig: 1e3\nz: -0.0\nhalf: .5\nhuge: 1e16\ntiny: 0.00001\nup: .inf\nnum: .nan\nn: 1\nhex: 0x10\n'
    const { dir, stages } = await loadIn(`stages:
  train:
    cmd:
      - train ${['lr', 'big', 'z', 'half', 'huge', 'tiny', 'up', 'num', 'n', 'hex'].map($).join(' ')}
      - echo ${$('lr')}
    wdir: runs/${$('lr')}
    deps:
      - data-${$('big')}.csv
    params:
      - ../../params.yaml: [lr]
      - p-${$('lr')}.yaml:
    outs:
      - model-${$('lr')}.pt:
          cache: true
    metrics:
      - m-${$('lr')}.json
    plots:
      - p-${$('n')}.csv
`, { 'params.yaml': params })
    expect(stages[0].cmd).toEqual(['train 1.0 1000.0 -0.0 0.5 1e+16 1e-05 inf nan 1 16', 'echo 1.0'])
    expect(stages[0].wdir).toBe('runs/1.0')
    expect(stages[0].deps).toEqual(['data-1000.0.csv'])
    expect(stages[0].params).toEqual([{ file: '../../params.yaml', keys: ['lr'] }, { file: 'p-1.0.yaml', keys: null }])
    expect(stages[0].outs.map((o) => o.path)).toEqual(['model-1.0.pt', 'm-1.0.json', 'p-1.csv'])
    // what the lock, params diff and run-cache keys record is unchanged: the number 1
    const recorded = stageParams(dir, { ...stages[0], params: [stages[0].params[0]] })
    expect(recorded).toEqual({ '../../params.yaml': { lr: 1 } })
    expect(typeof recorded['../../params.yaml'].lr).toBe('number')
  })

  it('floats keep their form from vars files (YAML and JSON), inline vars, foreach, matrix and a mapping in cmd', async () => {
    const files = {
      'conf.yaml': 'momentum: 1.0\nsteps: 3\n',
      'conf.json': '{"scale": 2.0, "exp": 1E3, "count": 4, "unused": 1.5}',
      'params.yaml': 'lrs: [0.5, 1.0, 2]\ntrain:\n  lr: 1.0\n  epochs: 5\n  sizes: [1.0, 2]\n'
    }
    const stages = await load(`vars:
  - conf.yaml
  - conf.json:scale,exp,count
  - alpha: 3.0
stages:
  vars-file:
    vars:
      - beta: 0.0
    cmd: run ${['momentum', 'steps', 'scale', 'exp', 'count', 'alpha', 'beta'].map($).join(' ')}
  literal:
    foreach: [0.5, 1.0]
    do:
      cmd: fit --lr ${$('item')}
  from-params:
    foreach: ${$('lrs')}
    do:
      cmd: fit --lr ${$('item')}
  grid:
    matrix:
      lr: [1.0, 2]
    cmd: fit --lr ${$('item.lr')}
  args:
    cmd: python train.py ${$('train')}
`, files)
    expect(stages.map((s) => [s.name, s.cmd[0]])).toEqual([
      ['vars-file', 'run 1.0 3 2.0 1000.0 4 3.0 0.0'],
      ['literal@0.5', 'fit --lr 0.5'],
      ['literal@1.0', 'fit --lr 1.0'],
      ['from-params@0.5', 'fit --lr 0.5'],
      ['from-params@1.0', 'fit --lr 1.0'],
      ['from-params@2', 'fit --lr 2'],
      ['grid@1.0', 'fit --lr 1.0'],
      ['grid@2', 'fit --lr 2'],
      ['args', 'python train.py --lr 1.0 --epochs 5 --sizes 1.0 2']
    ])
  })

  it('a float stays a scalar: not walked into, not a foreach list, not a stage', async () => {
    await expect(load(`stages:\n  s:\n    cmd: echo ${$('lr.x')}\n`, { 'params.yaml': 'lr: 1.0\n' })).rejects.toThrow(/'\$\{lr\.x\}' is not defined/)
    await expect(load(`stages:\n  s:\n    foreach: ${$('lr')}\n    do:\n      cmd: echo\n`, { 'params.yaml': 'lr: 1.0\n' })).rejects.toThrow(/'foreach' must be a list or a mapping/)
    await expect(load('stages:\n  s:\n    foreach: [a]\n    do: 1.0\n')).rejects.toThrow(/'do' must be a stage mapping/)
    await expect(load('vars:\n  - 1.0\nstages: {}\n')).rejects.toThrow(/each 'vars' entry must be a file name or a mapping/)
    // positive control: the same lookups on a mapping and a list work
    expect((await load(`stages:\n  s:\n    foreach: ${$('lr')}\n    do:\n      cmd: echo ${$('item.x')}\n`, { 'params.yaml': 'lr: [{x: 1.0}]\n' }))[0].cmd).toEqual(['echo 1.0'])
  })
})
