import { execFileSync } from 'node:child_process'
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import type { JobSpec } from '../src/exec/protocol.js'
import { MAX_PARAMS_FILE_BYTES, specKeyProblem } from '../src/exec/spec-key.js'
import { stageKey } from '../src/pipeline/runcache.js'

const dir = await mkdtemp(join(tmpdir(), 'mlp-spec-params-'))
afterAll(async () => { await rm(dir, { recursive: true, force: true }) })

/** A job whose params say `x: 1` in `file` (relative to `wdir`), keyed honestly. */
function spec (file: string, wdir = '.'): JobSpec {
  const params = { [file]: { x: 1 } }
  return { id: 'x', stage: 's', cmd: ['true'], wdir, inputs: [], outs: [{ path: 'o', cache: true }], gpu: 0, deps: [], params, key: stageKey(['true'], [], params, ['o']) }
}

describe('the params files the executor daemon reads to check a stage key', () => {
  it('are read when inside the job directory, through symlinks that stay inside (positive control)', async () => {
    const work = await mkdtemp(join(dir, 'work-'))
    await mkdir(join(work, 'd', 'sub'), { recursive: true })
    await writeFile(join(work, 'd', 'p.json'), '{"x": 1}')
    await writeFile(join(work, 'd', 'sub', 'p.yaml'), 'x: 1\n')
    await symlink('p.json', join(work, 'd', 'link.json'))
    expect(specKeyProblem(spec('d/p.json'), work)).toBeUndefined()
    expect(specKeyProblem(spec('p.yaml', 'd/sub'), work)).toBeUndefined()
    expect(specKeyProblem(spec('d/link.json'), work)).toBeUndefined()
    // absent: no values, as on the requester
    expect(specKeyProblem(spec('d/none.yaml'), work)).toContain("param 'x' is not what d/none.yaml says")
  })

  it('never leave it: /proc/self/pagemap, a file or a directory outside, a dangling link, ..: one refusal, fast', async () => {
    const work = await mkdtemp(join(dir, 'work-'))
    const outside = await mkdtemp(join(dir, 'outside-'))
    await writeFile(join(outside, 'secret.json'), '{"x": 1}')
    await mkdir(join(work, 'd'))
    await symlink('/proc/self/pagemap', join(work, 'd', 'p.json'))
    await symlink(join(outside, 'secret.json'), join(work, 'd', 's.json'))
    await symlink(outside, join(work, 'd', 'l'))
    await symlink(join(outside, 'nothing'), join(work, 'd', 'dangling.json'))
    const started = Date.now()
    for (const file of ['d/p.json', 'd/s.json', 'd/l/secret.json', 'd/l/nothing.json', 'd/dangling.json', '../../secret.json']) {
      expect(specKeyProblem(spec(file), work), file).toBe(`params file '${file}' is not a file inside the job directory: refused`)
    }
    expect(Date.now() - started).toBeLessThan(2_000)
  })

  it('must be regular files of at most 4 MiB', async () => {
    const work = await mkdtemp(join(dir, 'work-'))
    execFileSync('mkfifo', [join(work, 'fifo.yaml')])
    await mkdir(join(work, 'dir.yaml'))
    await writeFile(join(work, 'big.yaml'), `x: 1\n#${'a'.repeat(MAX_PARAMS_FILE_BYTES)}\n`)
    expect(specKeyProblem(spec('fifo.yaml'), work)).toBe("params file 'fifo.yaml' is not a regular file: refused")
    expect(specKeyProblem(spec('dir.yaml'), work)).toBe("params file 'dir.yaml' is not a regular file: refused")
    expect(specKeyProblem(spec('big.yaml'), work)).toContain("params file 'big.yaml' is over the 4 MiB")
  })
})
