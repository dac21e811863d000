import { chmodSync, mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { runCommand } from '../src/exec/local.js'

describe('a stage command is the command, never options of sh', () => {
  it('a command that starts with - runs as that command', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mlp-cmd-'))
    // a program on PATH whose name starts with '-'
    writeFileSync(join(dir, '-hello'), '#!/bin/sh\necho hi > out.txt\n')
    chmodSync(join(dir, '-hello'), 0o755)
    const r = await runCommand('-hello', { cwd: dir, env: { PATH: `${dir}:/usr/bin:/bin` } })
    expect(r.code).toBe(0)
    // positive control: an ordinary command in the same setup
    expect((await runCommand('test -s out.txt', { cwd: dir, env: { PATH: '/usr/bin:/bin' } })).code).toBe(0)
  })
})
