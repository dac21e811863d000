import { execFileSync } from 'node:child_process'
import { existsSync, mkdirSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { mlp, mlpJson, tempDir } from './helpers/cli.js'
import { DaemonPool } from './helpers/daemons.js'
import { newProject, sha256, writeRandom } from './helpers/project.js'

// needs root to mount a tmpfs; CI runs as root. Without it this fails loudly.
const pool = new DaemonPool()
let mountPoint: string
beforeAll(async () => {
  mountPoint = await tempDir('mlp-tmpfs-')
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=48m', 'tmpfs', mountPoint])
})
afterAll(async () => {
  await pool.cleanup()
  execFileSync('umount', ['-l', mountPoint])
  rmSync(mountPoint, { recursive: true, force: true })
})

describe('full disk', () => {
  it('add fails with a clear error, nothing stored is damaged, gc and a retry succeed', async () => {
    const home = join(mountPoint, 'home')
    mkdirSync(home)
    await pool.start(home)
    const proj = await newProject(home)
    writeRandom(join(proj, 'first.bin'), 30_000_000)
    writeRandom(join(proj, 'second.bin'), 30_000_000)
    const firstSum = sha256(join(proj, 'first.bin'))
    await mlpJson(home, ['add', 'first.bin'], { cwd: proj })

    const full = await mlp(home, ['add', 'second.bin'], { cwd: proj })
    expect(full.code).not.toBe(0)
    expect(full.stderr.trim().split('\n')).toHaveLength(1)
    expect(full.stderr).toContain('disk full')
    expect(existsSync(join(proj, 'second.bin.mlp'))).toBe(false)

    // what was stored before is intact and still served
    expect(await mlpJson(home, ['verify'])).toMatchObject({ corrupt: [], missing: [] })
    rmSync(join(proj, 'first.bin'))
    await mlpJson(home, ['checkout'], { cwd: proj })
    expect(sha256(join(proj, 'first.bin'))).toBe(firstSum)

    // make room: drop the first dataset, collect, retry
    rmSync(join(proj, 'first.bin.mlp'))
    const gc = await mlpJson(home, ['gc'])
    expect(gc.reclaimedBytes).toBeGreaterThan(20_000_000)
    const [second] = await mlpJson(home, ['add', 'second.bin'], { cwd: proj })
    expect(second.size).toBe(30_000_000)
    expect(await mlpJson(home, ['verify'])).toMatchObject({ corrupt: [], missing: [] })
  })
})
