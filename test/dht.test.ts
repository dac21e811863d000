import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { mlpJson } from './helpers/cli.js'
import { DaemonPool } from './helpers/daemons.js'
import { newProject, writeRandom } from './helpers/project.js'

const pool = new DaemonPool()
afterAll(async () => { await pool.cleanup() })

describe('provider records in the LAN DHT', () => {
  it('a peer that is not connected to the holder finds it through the DHT', async () => {
    const [a, b, c] = [await pool.start(), await pool.start(), await pool.start()]
    // a chain: C knows only B, B knows A; nobody but A has the data
    await mlpJson(b.home, ['peers', 'add', a.addrs[0]])
    await mlpJson(c.home, ['peers', 'add', b.addrs[0]])
    const proj = await newProject(a.home)
    writeRandom(join(proj, 'data.bin'), 2_000_000)
    const [shared] = await mlpJson(a.home, ['share', 'data.bin'], { cwd: proj })
    // C was told only about B, and mDNS is off: whatever links it to A is the DHT

    const [fetched] = await mlpJson(c.home, ['fetch', shared.cid])
    expect(fetched.bytes).toBeGreaterThanOrEqual(2_000_000)
    expect(fetched.fromPeers[a.peerId].blocks).toBeGreaterThan(0)
    const peersOfC = await mlpJson<Array<{ peerId: string, remembered: boolean }>>(c.home, ['peers'])
    expect(peersOfC.find((p) => p.peerId === a.peerId)?.remembered).toBe(false)
  })
})
