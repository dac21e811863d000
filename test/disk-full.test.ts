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

describe('full disk during a fetch', () => {
  it('fetch fails with a clear error, the store stays sound, gc and a retry succeed', async () => {
    const home = join(mountPoint, 'home2')
    mkdirSync(home)
    const d = await pool.start(home)
    const seed = await pool.start()
    await mlpJson(d.home, ['peers', 'add', seed.addrs[0]])
    const proj = await newProject(home)
    writeRandom(join(proj, 'local.bin'), 10_000_000)
    await mlpJson(home, ['add', 'local.bin'], { cwd: proj })
    const seedProj = await newProject(seed.home)
    writeRandom(join(seedProj, 'remote.bin'), 30_000_000)
    const remoteSum = sha256(join(seedProj, 'remote.bin'))
    const [shared] = await mlpJson(seed.home, ['share', 'remote.bin'], { cwd: seedProj })
    // the first daemon on this tmpfs still holds its 30 MB: not enough room for 30 more
    const full = await mlp(home, ['fetch', shared.cid])
    expect(full.code).not.toBe(0)
    expect(full.stderr.trim().split('\n')).toHaveLength(1)
    expect(full.stderr).toContain('disk full')
    expect(await mlpJson(home, ['verify'])).toMatchObject({ corrupt: [], missing: [] })

    // whatever the failed fetch stored, in the pack being written too, goes with the local file
    rmSync(join(proj, 'local.bin.mlp'))
    const gc = await mlpJson(home, ['gc'])
    expect(gc).toMatchObject({ packBytesAfter: 0, heldInCurrentPack: 0 })
    const firstHome = join(mountPoint, 'home')
    await mlpJson(firstHome, ['daemon', 'stop'])
    rmSync(join(firstHome, 'store'), { recursive: true, force: true })
    const out = join(await tempDir(), 'remote.bin')
    await mlpJson(home, ['fetch', shared.cid, '-o', out])
    expect(sha256(out)).toBe(remoteSum)
  })
})
