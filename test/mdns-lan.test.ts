import { execFileSync } from 'node:child_process'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { MLP_BIN, mlpJson, tempDir, waitFor } from './helpers/cli.js'
import { DaemonPool } from './helpers/daemons.js'
import { createLan, type Lan } from './helpers/netns.js'
import { newProject, sha256, writeRandom } from './helpers/project.js'

// Three hosts on a bridged LAN made of network namespaces (root needed, as
// in CI). Each runs `mlp daemon start` with no flags at all: default port,
// mDNS on. They must find each other and move data with no configuration.
const pool = new DaemonPool()
let lan: Lan
beforeAll(() => { lan = createLan(3, 7) })
afterAll(async () => {
  await pool.cleanup()
  lan?.teardown()
})

describe('a LAN with no configuration', () => {
  it('daemons find each other by mDNS, share and fetch', async () => {
    const daemons = []
    for (const ns of lan.hosts) {
      const home = await pool.home()
      // the daemon lives in the host's namespace; its API is a unix socket, reachable from here
      const out = execFileSync('ip', ['netns', 'exec', ns, process.execPath, MLP_BIN, 'daemon', 'start', '--json'], { env: { ...process.env, MLP_HOME: home, NODE_ENV: '' } }).toString()
      const started = JSON.parse(out) as { pid: number, peerId: string, addrs: string[] }
      pool.track(started.pid)
      daemons.push({ home, ...started })
    }
    for (const [i, d] of daemons.entries()) {
      expect(d.addrs.some((a) => a.startsWith(`/ip4/${lan.addrs[i]}/tcp/4737/`))).toBe(true)
    }
    for (const d of daemons) {
      await waitFor(`${d.peerId} to discover both others`, async () => {
        const peers = await mlpJson<Array<{ peerId: string, state: string }>>(d.home, ['peers'])
        return peers.filter((p) => p.state === 'connected').length === 2
      }, 45_000)
    }
    const [a, b, c] = daemons
    const proj = await newProject(a.home)
    writeRandom(join(proj, 'data.bin'), 4_000_000)
    const sum = sha256(join(proj, 'data.bin'))
    const [shared] = await mlpJson(a.home, ['share', 'data.bin'], { cwd: proj })
    const outB = join(await tempDir(), 'b.bin')
    await mlpJson(b.home, ['fetch', shared.cid, '-o', outB])
    expect(sha256(outB)).toBe(sum)
    const [fc] = await mlpJson(c.home, ['fetch', shared.cid])
    expect(Object.keys(fc.fromPeers).length).toBeGreaterThanOrEqual(1)
    expect(await mlpJson(c.home, ['verify'])).toMatchObject({ corrupt: [], missing: [] })
  })
})
