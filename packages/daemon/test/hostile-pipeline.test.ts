import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs'
import { mkdtemp } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { checkInsideProject } from '../src/pipeline/contained.js'
import { ExpansionBudget, MAX_EXPANDED_BYTES, MAX_INTERPOLATED_BYTES } from '../src/pipeline/expansion.js'
import { MAX_PIPELINE_FILE_BYTES, readPipelineText } from '../src/pipeline/file-size.js'
import { loadPipeline, readParamsFile } from '../src/pipeline/schema.js'
import { interpolate, valueSize } from '../src/pipeline/template.js'

// What one hostile commit can make a daemon do when it reads the pipeline:
// `${}` repeated over a large params value, params.yaml -> /proc/self/pagemap,
// a committed symlink that takes a dep outside the project.

/** `${name}` as a pipeline file writes it. */
function ref (name: string): string {
  return '$' + `{${name}}`
}

async function project (files: Record<string, string>): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'mlp-hostile-pipeline-'))
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text)
  return dir
}

function messageOf (f: () => unknown): string {
  try {
    f()
  } catch (err) {
    return (err as Error).message
  }
  return ''
}

describe('interpolation is bounded before each string is built', () => {
  it('the attack: a 1 MiB value repeated 300 times in a 100-item foreach is refused in one line naming file, line and stage', async () => {
    const items = Array.from({ length: 100 }, (_, i) => `      - i${i}`).join('\n')
    const dir = await project({
      'params.yaml': `a: ${'x'.repeat(1 << 20)}\n`,
      'mlp.yaml': `stages:\n  s:\n    foreach:\n${items}\n    do:\n      cmd: "${ref('item')}${ref('a').repeat(300)}"\n      outs: ["o${ref('item')}"]\n`
    })
    const before = process.memoryUsage().heapUsed
    const message = messageOf(() => loadPipeline(join(dir, 'mlp.yaml')))
    expect(message).toBe(`${join(dir, 'mlp.yaml')}:2: stage 's@i0': a string using '${ref('a')}' interpolates to 300.0 MiB; mlp allows at most 1.0 MiB per value`)
    expect(message.split('\n')).toHaveLength(1)
    // nothing near 300 MiB was built
    expect(process.memoryUsage().heapUsed - before).toBeLessThan(64 * 1024 * 1024)
  })

  it('many strings each under the per-value limit are refused once the pipeline total passes MAX_EXPANDED_BYTES', async () => {
    const dir = await project({
      'params.yaml': `a: ${'x'.repeat(900 * 1024)}\n`,
      'mlp.yaml': `stages:\n  s:\n    foreach: [${Array.from({ length: 100 }, (_, i) => i).join(', ')}]\n    do:\n      cmd: "echo ${ref('a')} ${ref('item')}"\n`
    })
    expect(messageOf(() => loadPipeline(join(dir, 'mlp.yaml')))).toMatch(new RegExp(`mlp\\.yaml:2: stage 's@\\d+': a string using '\\$\\{a\\}' takes the pipeline's interpolated values over the ${MAX_EXPANDED_BYTES / 1024 / 1024} MiB mlp expands per pipeline$`))
  })

  it('a whole-value reference to a large string is charged too', async () => {
    const dir = await project({
      'params.yaml': `a: ${'x'.repeat(MAX_INTERPOLATED_BYTES + 10)}\n`,
      'mlp.yaml': `stages:\n  s:\n    cmd: ${ref('a')}\n`
    })
    expect(messageOf(() => loadPipeline(join(dir, 'mlp.yaml')))).toContain(`stage 's': '${ref('a')}' interpolates to 1.0 MiB; mlp allows at most 1.0 MiB per value`)
  })

  it('a matrix whose stage names would repeat a long value is refused before any name is built', async () => {
    const dir = await project({
      'params.yaml': `a: ${'x'.repeat(800 * 1024)}\n`,
      'mlp.yaml': `stages:\n  m:\n    matrix:\n      a: ["${ref('a')}"]\n      b: [${Array.from({ length: 200 }, (_, i) => i).join(', ')}]\n    cmd: echo\n`
    })
    expect(messageOf(() => loadPipeline(join(dir, 'mlp.yaml')))).toContain("stage 'm': a matrix stage name takes the pipeline's interpolated values over")
  })

  it('ordinary interpolation still works (positive control): params, vars, foreach items, whole values keep their type', async () => {
    const dir = await project({
      'params.yaml': `train:\n  lr: 0.1\n  layers: [8, 16]\nbig: ${'y'.repeat(512 * 1024)}\n`,
      'mlp.yaml': `stages:\n  t:\n    foreach: [a, b]\n    do:\n      cmd: python train.py --lr ${ref('train.lr')} --name ${ref('item')} --big ${ref('big')}\n      outs: ["model-${ref('item')}.pt"]\n  u:\n    cmd: ${ref('train.layers')}\n`
    })
    const p = loadPipeline(join(dir, 'mlp.yaml'))
    expect(p.stages.map((s) => s.name)).toEqual(['t@a', 't@b', 'u'])
    expect(p.stages[1].cmd[0]).toBe(`python train.py --lr 0.1 --name b --big ${'y'.repeat(512 * 1024)}`)
    expect(p.stages[1].outs[0].path).toBe('model-b.pt')
    expect(p.stages[2].cmd).toEqual(['8', '16'])
  })

  it('interpolate charges the sum of the pieces, and valueSize stops walking past its limit', () => {
    const budget = new ExpansionBudget()
    expect(interpolate(`${ref('a')}-${ref('a')}`, { a: 'xyz' }, 'w', budget)).toBe('xyz-xyz')
    expect(() => interpolate(ref('a').repeat(3), { a: 'x'.repeat(MAX_INTERPOLATED_BYTES / 2) }, 'w', budget)).toThrow("w: a string using '" + ref('a') + "' interpolates to 1.5 MiB")
    const deep = { k: Array.from({ length: 1000 }, () => 'z'.repeat(10_000)) }
    expect(valueSize(deep, 50_000)).toBeLessThan(100_000)
  })
})

describe('pipeline, params, lock and vars files are read bounded and only inside the project', () => {
  it('params.yaml -> /proc/self/pagemap is refused in one line, before anything is read', async () => {
    const dir = await project({ 'mlp.yaml': 'stages:\n  a:\n    cmd: echo\n' })
    symlinkSync('/proc/self/pagemap', join(dir, 'params.yaml'))
    const started = Date.now()
    expect(messageOf(() => loadPipeline(join(dir, 'mlp.yaml')))).toMatch(/^"params\.yaml" leads outside the project \(to "\/proc\/\d+\/pagemap"\) through a symlink: refused$/)
    expect(Date.now() - started).toBeLessThan(1000)
  })

  it.each(['mlp.yaml', 'mlp.lock'])('%s as a symlink out of the project is refused', async (name) => {
    const outside = await project({ 'x.yaml': 'stages: {}\n' })
    const dir = await project(name === 'mlp.lock' ? { 'mlp.yaml': 'stages: {}\n' } : {})
    symlinkSync(join(outside, 'x.yaml'), join(dir, name))
    expect(messageOf(() => readPipelineText(join(dir, name), dir))).toContain(`"${name}" leads outside the project`)
  })

  it('a vars file through a symlinked directory out of the project is refused', async () => {
    const outside = await project({ 'secret.yaml': 'token: hunter2\n' })
    const dir = await project({ 'mlp.yaml': `vars:\n  - conf/secret.yaml\nstages:\n  a:\n    cmd: echo ${ref('token')}\n` })
    symlinkSync(outside, join(dir, 'conf'))
    expect(messageOf(() => loadPipeline(join(dir, 'mlp.yaml')))).toContain('"conf/secret.yaml" leads outside the project')
  })

  it('without a root, a procfs file (st_size 0) is read at most MAX+1 bytes and refused', () => {
    const started = Date.now()
    expect(messageOf(() => readPipelineText('/proc/self/pagemap'))).toBe(`/proc/self/pagemap: over the ${MAX_PIPELINE_FILE_BYTES / 1024 / 1024} MiB mlp reads in a pipeline, params or lock file (it said 0 bytes)`)
    expect(Date.now() - started).toBeLessThan(2000)
  })

  it('a small procfs file (st_size 0) is read whole', () => {
    expect(readPipelineText('/proc/self/status')).toContain('Name:')
  })

  it('a params file named with .. in a stage is refused', async () => {
    const dir = await project({ 'mlp.yaml': 'stages:\n  a:\n    cmd: echo\n    params:\n      - ../../etc/passwd.yaml:\n          - root\n' })
    expect(messageOf(() => loadPipeline(join(dir, 'mlp.yaml')))).toBe(`${join(dir, 'mlp.yaml')}:2: stage 'a': params file '../../etc/passwd.yaml' must stay inside the project`)
  })

  it('a normal params.yaml loads, as does one symlinked to a file inside the project (positive control)', async () => {
    const dir = await project({ 'mlp.yaml': `stages:\n  a:\n    cmd: echo ${ref('lr')}\n`, 'conf.yaml': 'lr: 0.5\n' })
    mkdirSync(join(dir, 'sub'))
    symlinkSync('conf.yaml', join(dir, 'params.yaml'))
    expect(loadPipeline(join(dir, 'mlp.yaml')).stages[0].cmd).toEqual(['echo 0.5'])
    expect(readParamsFile(join(dir, 'params.yaml'), dir)).toEqual({ lr: 0.5 })
    writeFileSync(join(dir, 'sub', 'big.yaml'), `k: ${'1'.repeat(100_000)}\n`)
    expect(readPipelineText(join(dir, 'sub', 'big.yaml'), dir)).toHaveLength(100_004)
  })
})

describe('checkInsideProject', () => {
  it('follows symlinks that stay inside; refuses those that leave, for existing and missing paths', async () => {
    const outside = await project({ id_ed25519: 'KEY\n' })
    const dir = await project({})
    mkdirSync(join(dir, 'store', 'data'), { recursive: true })
    writeFileSync(join(dir, 'store', 'data', 'x.csv'), '1\n')
    symlinkSync('store/data', join(dir, 'data'))
    symlinkSync(outside, join(dir, 'secrets'))
    expect(checkInsideProject(dir, 'data/x.csv')).toMatch(/store\/data\/x\.csv$/)
    expect(checkInsideProject(dir, 'data/not-yet/y.csv')).toMatch(/store\/data\/not-yet\/y\.csv$/)
    expect(checkInsideProject(dir, 'new/dir/file')).toMatch(/new\/dir\/file$/)
    expect(messageOf(() => checkInsideProject(dir, 'secrets/id_ed25519', "stage 'train': dep"))).toMatch(/^stage 'train': dep "secrets\/id_ed25519" leads outside the project \(to ".*\/id_ed25519"\) through a symlink: refused$/)
    expect(messageOf(() => checkInsideProject(dir, 'secrets/missing/file'))).toContain('"secrets/missing/file" leads outside the project')
    expect(messageOf(() => checkInsideProject(dir, 'secrets'))).toContain('"secrets" leads outside the project')
  })
})
