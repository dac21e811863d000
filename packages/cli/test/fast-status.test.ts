import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { plainStatusArgs } from '../src/fast-status.js'

describe('plainStatusArgs (mlp status without oclif)', () => {
  const env = { HOME: '/nonexistent-home', MLP_HOME: '/x' }

  it('takes plain targets and one --json, anywhere', () => {
    expect(plainStatusArgs([], env)).toEqual({ targets: [], json: false })
    expect(plainStatusArgs(['data/raw', 'model.bin'], env)).toEqual({ targets: ['data/raw', 'model.bin'], json: false })
    expect(plainStatusArgs(['--json', 'a', 'b'], env)).toEqual({ targets: ['a', 'b'], json: true })
    expect(plainStatusArgs(['a', '--json'], env)).toEqual({ targets: ['a'], json: true })
  })

  it('leaves every other command line to oclif', () => {
    for (const args of [['--help'], ['-h'], ['--', 'a'], ['a', '--jobs=2'], ['--json', '--json'], [''], ['-weird']]) {
      expect(plainStatusArgs(args, env)).toBeUndefined()
    }
  })

  it('leaves it to oclif when the environment changes what oclif prints', () => {
    for (const extra of [{ MLP_CONTENT_TYPE: 'json' }, { MLP_CONFIG_DIR: '/tmp' }, { DEBUG: '*' }, { MLP_DEBUG: '1' }]) {
      expect(plainStatusArgs(['a'], { ...env, ...extra })).toBeUndefined()
    }
    const config = mkdtempSync(join(tmpdir(), 'mlp-theme-'))
    try {
      expect(plainStatusArgs(['a'], { ...env, XDG_CONFIG_HOME: config })).toBeDefined()
      mkdirSync(join(config, 'mlp'))
      writeFileSync(join(config, 'mlp', 'theme.json'), '{}')
      expect(plainStatusArgs(['a'], { ...env, XDG_CONFIG_HOME: config })).toBeUndefined()
    } finally {
      rmSync(config, { recursive: true, force: true })
    }
  })
})
