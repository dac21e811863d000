import { mkdtemp, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { ExpansionBudget, foreachCount, matrixCount, MAX_EXPANDED_BYTES, MAX_STAGES } from '../src/pipeline/expansion.js'
import { MAX_PIPELINE_FILE_BYTES } from '../src/pipeline/file-size.js'
import { loadPipeline } from '../src/pipeline/schema.js'
import { buildGraph } from '../src/pipeline/graph.js'

/** `${name}` as a pipeline file writes it. */
function ref (name: string): string {
  return '$' + `{${name}}`
}

async function pipeline (text: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'mlp-expansion-'))
  await writeFile(join(dir, 'mlp.yaml'), text)
  return join(dir, 'mlp.yaml')
}

describe('expansion size, computed before expanding', () => {
  it.each([
    [{ a: [1, 2, 3] }, 3],
    [{ a: [1, 2, 3], b: ['x', 'y', 'z'] }, 9],
    [{ a: [1], b: [2], c: [3] }, 1],
    [Object.fromEntries(Array.from({ length: 8 }, (_, i) => [`k${i}`, Array.from({ length: 10 }, (_, j) => j)])), 100_000_000]
  ])('matrix %j makes %d stages', (matrix, count) => {
    expect(matrixCount(matrix, 'mlp.yaml:1')).toBe(count)
  })

  it('a matrix entry that is not a non-empty list is an error naming it', () => {
    expect(() => matrixCount({ a: [1], b: [] }, 'mlp.yaml:3: stage \'t\'')).toThrow("mlp.yaml:3: stage 't': matrix 'b' must be a non-empty list")
    expect(() => matrixCount({ a: 'x' }, 'w')).toThrow("matrix 'a' must be a non-empty list")
  })

  it.each([
    [['a', 'b'], 2],
    [{ x: 1, y: 2, z: 3 }, 3],
    [[], 0],
    ['scalar', undefined],
    [null, undefined]
  ])('foreach over %j makes %s stages', (items, count) => {
    expect(foreachCount(items)).toBe(count)
  })

  it('the budget allows exactly MAX_STAGES stages per pipeline, counted across stages', () => {
    const budget = new ExpansionBudget()
    budget.add("stage 'a'", MAX_STAGES - 1, 10)
    budget.add("stage 'b'", 1, 10)
    expect(() => { budget.add("stage 'c'", 1, 10) }).toThrow(`stage 'c': expands to 1 stages (${MAX_STAGES} before it); mlp allows at most ${MAX_STAGES} stages per pipeline`)
  })

  it('the budget refuses many copies of a large body', () => {
    const budget = new ExpansionBudget()
    expect(() => { budget.add("stage 'big'", 1000, MAX_EXPANDED_BYTES / 100) }).toThrow("stage 'big': 1000 copies")
  })
})

describe('loadPipeline bounds', () => {
  it('an 8 x 10 matrix is refused in one line naming the stage and the count', async () => {
    const keys = Array.from({ length: 8 }, (_, i) => `      k${i}: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]`).join('\n')
    const file = await pipeline(`stages:\n  grid:\n    matrix:\n${keys}\n    cmd: echo \${item.k0}\n`)
    let message = ''
    try {
      loadPipeline(file)
    } catch (err) {
      message = (err as Error).message
    }
    expect(message).toBe(`${file}:2: stage 'grid': expands to 100000000 stages; mlp allows at most 10000 stages per pipeline`)
  })

  it('a 3 x 3 matrix loads into 9 stages', async () => {
    const a = ref('item.a')
    const b = ref('item.b')
    const file = await pipeline(`stages:\n  grid:\n    matrix:\n      a: [1, 2, 3]\n      b: [x, y, z]\n    cmd: echo ${a} ${b}\n    outs:\n      - out/${a}-${b}\n`)
    const p = loadPipeline(file)
    expect(p.stages.map((s) => s.name)).toEqual(['grid@1-x', 'grid@1-y', 'grid@1-z', 'grid@2-x', 'grid@2-y', 'grid@2-z', 'grid@3-x', 'grid@3-y', 'grid@3-z'])
    expect(p.stages[5].cmd).toEqual(['echo 2 z'])
  })

  it('a foreach over params that expands past the limit is refused', async () => {
    const items = Array.from({ length: MAX_STAGES + 1 }, (_, i) => String(i)).join(',')
    const file = await pipeline(`vars:\n  - items: [${items}]\nstages:\n  t:\n    foreach: \${items}\n    do:\n      cmd: echo \${item}\n`)
    expect(() => loadPipeline(file)).toThrow(`stage 't': expands to ${MAX_STAGES + 1} stages`)
  })

  it('10,000 stages load and form a graph (a fan-out to one stage and back)', async () => {
    const items = Array.from({ length: MAX_STAGES - 2 }, (_, i) => `i${i}`).join(', ')
    const file = await pipeline(`stages:\n  prep:\n    cmd: echo\n    outs: [data]\n  t:\n    foreach: [${items}]\n    do:\n      cmd: echo \${item}\n      deps:\n        - data\n      outs:\n        - out/\${item}\n  all:\n    cmd: echo\n    deps: [out]\n`)
    const p = loadPipeline(file)
    expect(p.stages).toHaveLength(MAX_STAGES)
    const g = buildGraph(p.stages, file)
    expect(g.edges).toHaveLength(2 * (MAX_STAGES - 2))
    expect(g.order[0]).toBe('prep')
    expect(g.order.at(-1)).toBe('all')
  })

  it('a pipeline file over the size limit is refused before parsing', async () => {
    const file = await pipeline('stages: {}\n' + '#'.repeat(MAX_PIPELINE_FILE_BYTES))
    expect(() => loadPipeline(file)).toThrow(/mlp\.yaml: 4\.0 MiB is over the 4 MiB mlp reads in a pipeline, params or lock file$/)
  })
})
