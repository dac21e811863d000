import { mkdir, mkdtemp, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { pyNumber, renderArgs, shellQuote } from '../src/pipeline/render.js'
import { loadPipeline, type Stage } from '../src/pipeline/schema.js'

/** `${expr}` as a pipeline file writes it (kept out of template literals). */
const $ = (expr: string): string => '$' + `{${expr}}`

/** Loads `yaml` as a project's dvc.yaml, with optional params.yaml and .dvc/config. */
async function load (yaml: string, files: Record<string, string> = {}): Promise<Stage[]> {
  const dir = await mkdtemp(join(tmpdir(), 'mlp-dvc-tpl-'))
  for (const [name, text] of Object.entries(files)) {
    await mkdir(join(dir, name, '..'), { recursive: true })
    await writeFile(join(dir, name), text)
  }
  await writeFile(join(dir, 'dvc.yaml'), yaml)
  return loadPipeline(join(dir, 'dvc.yaml')).stages
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
})
