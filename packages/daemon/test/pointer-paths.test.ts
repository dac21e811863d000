import { describe, expect, it } from 'vitest'
import { parsePointer } from '../src/tracking/pointers.js'

const CID = 'bafkr4ihkr4ld3m4gqkjf4reryxsy2s5tkbxprqkow6fin2iiyvreuzzab4'
const pointer = (path: string): string => `outs:\n  - path: ${path}\n    cid: ${CID}\n    size: 4\n`

describe('a pointer file never names a pipeline file, a lock or .mlp/ as its out', () => {
  it('positive control: an ordinary path parses', () => {
    expect(parsePointer(pointer('data.csv'), 'data.csv.mlp').outs[0].path).toBe('data.csv')
  })

  it.each(['mlp.yaml', 'dvc.yaml', 'MLP.yaml', 'mlp.lock', 'sub/dvc.lock', '.mlp/config.yaml'])('%s is refused in one line naming the file', (path) => {
    expect(() => parsePointer(pointer(path), 'x.mlp')).toThrow(/^x\.mlp.*(pipeline or lock file|project's own state)/)
  })
})
