import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { mlpJson } from './helpers/cli.js'
import { DaemonPool, type TestDaemon } from './helpers/daemons.js'
import { catSha256, newProject, writeRandom } from './helpers/project.js'
import { createHash } from 'node:crypto'

// A stranger fetching data that several holders shared gets it from all of
// them: each holder serves a stranger only what lies below a root it shared,
// walking down from blocks it served, so a fetch that splits the blocks
// across holders must open each holder's walk to what it asks of it.
const TIMEOUT_MS = 240_000
const pool = new DaemonPool()
afterAll(async () => { await pool.cleanup() }, 120_000)

interface Fetched { root: string, blocks: number, bytes: number, fromPeers: Record<string, { blocks: number, bytes: number }> }

async function openDaemon (): Promise<TestDaemon> {
  return await pool.start(undefined, undefined, undefined, { team: false })
}

describe('a stranger fetching from several holders', () => {
  it('gets shares from every holder that shared the root, and nothing from one that only holds it', async () => {
    const [seed, h1, h2, unshared, late] = await Promise.all([openDaemon(), openDaemon(), openDaemon(), openDaemon(), openDaemon()])
    const proj = await newProject(seed.home)
    // about 150 blocks under a few file nodes: enough for every holder to get some
    const data = writeRandom(join(proj, 'big.bin'), 12_000_000)
    const [shared] = await mlpJson<Array<{ cid: string }>>(seed.home, ['share', 'big.bin'], { cwd: proj })
    for (const h of [h1, h2, unshared]) {
      await mlpJson(h.home, ['peers', 'add', seed.addrs[0]])
      await mlpJson(h.home, ['fetch', shared.cid])
    }
    for (const h of [h1, h2]) await mlpJson(h.home, ['share', shared.cid])
    for (const h of [seed, h1, h2, unshared]) await mlpJson(late.home, ['peers', 'add', h.addrs[0]])

    const [fetched] = await mlpJson<Fetched[]>(late.home, ['fetch', shared.cid])
    expect(await catSha256(late.home, shared.cid)).toBe(createHash('sha256').update(data).digest('hex'))
    const from = (d: TestDaemon): number => fetched.fromPeers[d.peerId]?.blocks ?? 0
    // the control: the holders that shared it all served; the one that did not, nothing
    for (const h of [seed, h1, h2]) expect(from(h), `blocks from ${h.peerId}`).toBeGreaterThan(0)
    expect(from(unshared)).toBe(0)
    expect(from(seed) + from(h1) + from(h2)).toBe(fetched.blocks)
  }, TIMEOUT_MS)
})
