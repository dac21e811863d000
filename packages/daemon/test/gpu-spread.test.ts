import type { Resources } from '@mlp/proto'
import { describe, expect, it } from 'vitest'
import { GpuHolds } from '../src/exec/gpu-holds.js'
import { RemoteExec, type RemoteExecComponents } from '../src/exec/remote.js'
import type { JobTable } from '../src/exec/jobs.js'
import type { Logger } from '../src/logger.js'
import type { MlpNode } from '../src/net/node.js'
import type { TrustGrants } from '../src/trust/grants.js'

// Two idle single-GPU peers and two GPU stages placed at the same moment (a
// sweep run with -j 2): one stage on each peer, not both on the first.

const SELF = 'self-peer'
const G1 = 'peer-gpu-1'
const G2 = 'peer-gpu-2'

const H200 = { index: 0, uuid: 'GPU-1', name: 'NVIDIA H200', memoryTotalMib: 143771, memoryUsedMib: 0, memoryFreeMib: 143156, utilizationPct: 0, driverVersion: '580.159.04', computeCap: '9.0' }

function offer (gpus: Resources['gpus']): Resources {
  return { gpus, cpus: 4, memoryBytes: 2 ** 34, freeMemoryBytes: 2 ** 33, runningJobs: 0, queuedJobs: 0 }
}

/** Placement over fixed offers (the same for both peers): the peers' answers stand in for the resources protocol, each after a tick. */
class FixedOffers extends RemoteExec {
  constructor (private readonly offers: Record<string, Resources>) {
    const node = { peerId: { toString: () => SELF }, getPeers: () => Object.keys(offers).map((p) => ({ toString: () => p })) } as unknown as MlpNode
    const trust = { has: () => true, onRevoke: () => () => {} } as unknown as TrustGrants
    super({ node, log: {} as unknown as Logger, jobs: {} as unknown as JobTable, resources: async () => offer([]), trust } satisfies RemoteExecComponents)
  }

  override async peerResources (peer: string): Promise<Resources | undefined> {
    await new Promise((resolve) => setImmediate(resolve))
    return this.offers[peer]
  }
}

describe('GPU placement over free peers', () => {
  it('two stages placed together go one to each free single-GPU peer', async () => {
    const remote = new FixedOffers({ [G1]: offer([H200]), [G2]: offer([H200]) })
    const [first, second] = await Promise.all([remote.place({ gpu: 1 }), remote.place({ gpu: 1 })])
    expect(first).not.toBe('local')
    expect(second).not.toBe('local')
    expect(new Set([(first as string[])[0], (second as string[])[0]])).toEqual(new Set([G1, G2]))
    // both peers stay in each list: the executor that refuses is skipped for the next
    expect([...(first as string[])].sort()).toEqual([G1, G2])
  })

  it('a peer whose one GPU is held is not free for the next stage; a dry run holds nothing', async () => {
    const remote = new FixedOffers({ [G1]: offer([H200]), [G2]: offer([H200]) })
    // positive control for the dry run: asking where it would go twice gives the same peer, holding nothing
    const dry1 = await remote.place({ gpu: 1, dry: true })
    const dry2 = await remote.place({ gpu: 1, dry: true })
    expect((dry1 as string[])[0]).toBe((dry2 as string[])[0])
    const a = (await remote.place({ gpu: 1 }) as string[])[0]
    const b = (await remote.place({ gpu: 1 }) as string[])[0]
    expect(b).not.toBe(a)
  })

  it('a peer with two GPUs takes two stages before a free single-GPU peer is passed over', async () => {
    const two = offer([H200, { ...H200, index: 1, uuid: 'GPU-2', memoryFreeMib: 143000 }])
    const remote = new FixedOffers({ [G1]: two, [G2]: offer([{ ...H200, memoryFreeMib: 1000 }]) })
    const placed = await Promise.all([remote.place({ gpu: 1 }), remote.place({ gpu: 1 }), remote.place({ gpu: 1 })])
    const firsts = placed.map((p) => (p as string[])[0])
    expect(firsts.filter((p) => p === G1)).toHaveLength(2)
    expect(firsts.filter((p) => p === G2)).toHaveLength(1)
  })
})

describe('GPU holds', () => {
  it('a placement holds until its job starts and ends; an unstarted one lapses', () => {
    let now = 0
    const holds = new GpuHolds(1000, () => now)
    holds.place(G1, 1)
    expect(holds.held(G1)).toBe(1)
    expect(holds.held(G2)).toBe(0)
    // the job takes over the placement's hold: still one GPU, not two
    holds.start(G1, 'job-1', 1)
    expect(holds.held(G1)).toBe(1)
    holds.end(G1, 'job-1')
    expect(holds.held(G1)).toBe(0)
    // a placement whose job never starts
    holds.place(G2, 2)
    now = 999
    expect(holds.held(G2)).toBe(2)
    now = 1000
    expect(holds.held(G2)).toBe(0)
    // a running job does not lapse
    holds.start(G2, 'job-2', 1)
    now = 10_000
    expect(holds.held(G2)).toBe(1)
  })
})
