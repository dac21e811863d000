import { describe, expect, it } from 'vitest'
import { resolveJobId } from '../src/exec/job-prefix.js'
import { JobTable } from '../src/exec/jobs.js'

const ids = [
  'e5ad8e1d-0a6b-4c1e-9f2a-1b7c3d4e5f60',
  'e5ad9f00-1111-4222-8333-444455556666',
  '3f2a1b7c-aaaa-4bbb-8ccc-dddddddddddd'
]

describe('job id prefixes', () => {
  it('takes a whole id', () => {
    expect(resolveJobId(ids[0], ids)).toBe(ids[0])
  })

  it('takes a unique prefix, as git takes a short commit id', () => {
    expect(resolveJobId('e5ad8e1d', ids)).toBe(ids[0])
    expect(resolveJobId('3f2a', ids)).toBe(ids[2])
  })

  it('refuses an ambiguous prefix and lists the jobs it matches', () => {
    expect(() => resolveJobId('e5ad', ids)).toThrow(expect.objectContaining({
      name: 'AmbiguousJobIdError',
      message: `job id e5ad is ambiguous: 2 jobs start with it (${ids[0]}, ${ids[1]}); give more characters`
    }))
  })

  it('says no job matches, naming `mlp jobs`', () => {
    expect(() => resolveJobId('abcdef12', ids)).toThrow(expect.objectContaining({ name: 'JobNotFoundError', message: 'no job abcdef12 on this machine: see `mlp jobs`' }))
  })

  it('refuses a prefix under 4 characters even when it is unique', () => {
    expect(() => resolveJobId('3f2', ids)).toThrow(expect.objectContaining({ name: 'BadRequestError', message: "job id '3f2' is too short: give at least 4 characters (see `mlp jobs`)" }))
  })

  it('the job table resolves prefixes to its records', () => {
    const table = new JobTable()
    for (const id of ids) table.add({ id, stage: `s-${id.slice(0, 4)}`, role: 'executor', peer: 'p', state: 'running', gpus: [], startedAt: new Date().toISOString() } as never)
    expect(table.resolve('3f2a1b').info.stage).toBe('s-3f2a')
    expect(() => table.resolve('e5ad')).toThrow(expect.objectContaining({ name: 'AmbiguousJobIdError' }))
  })
})
