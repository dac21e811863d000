import type { Resources } from '@mlp/proto'
import { describe, expect, it } from 'vitest'
import { parseConfig } from '../src/config.js'
import { RemoteExec, type RemoteExecComponents } from '../src/exec/remote.js'
import { describeResources, satisfies, simulatedGpuInfos } from '../src/exec/resources.js'
import type { JobTable } from '../src/exec/jobs.js'
import type { Logger } from '../src/logger.js'
import type { MlpNode } from '../src/net/node.js'
import type { TrustGrants } from '../src/trust/grants.js'

const SELF = 'self-peer'
const SIM = 'peer-with-simulated-gpu'
const REAL = 'peer-with-real-gpu'

const REAL_GPU = { index: 0, uuid: 'GPU-1', name: 'NVIDIA H200', memoryTotalMib: 143771, memoryUsedMib: 0, memoryFreeMib: 143156, utilizationPct: 0, driverVersion: '580.159.04', computeCap: '9.0' }

function offer (gpus: Resources['gpus']): Resources {
  return { gpus, cpus: 4, memoryBytes: 2 ** 34, freeMemoryBytes: 2 ** 33, runningJobs: 0, queuedJobs: 0 }
}

/** Placement over fixed offers: the peers' answers stand in for the resources protocol. */
class FixedOffers extends RemoteExec {
  constructor (private readonly offers: Record<string, Resources>, local: Resources) {
    const node = { peerId: { toString: () => SELF }, getPeers: () => Object.keys(offers).map((p) => ({ toString: () => p })) } as unknown as MlpNode
    const trust = { has: () => true, onRevoke: () => () => {} } as unknown as TrustGrants
    super({ node, log: {} as unknown as Logger, jobs: {} as unknown as JobTable, resources: async () => local, trust } satisfies RemoteExecComponents)
  }

  override async peerResources (peer: string): Promise<Resources | undefined> {
    return this.offers[peer]
  }
}

describe('simulated GPUs', () => {
  it('config: executor.simulatedGpus takes a small whole number and names the line of a bad one', () => {
    expect(parseConfig('executor: {simulatedGpus: 1}\n')).toEqual({ executor: { sandbox: true, simulatedGpus: 1 } })
    expect(() => parseConfig('executor:\n  simulatedGpus: yes\n', 'c.yaml')).toThrow("c.yaml:2: 'executor.simulatedGpus' must be a whole number from 0 to 16")
    expect(() => parseConfig('executor: {simulatedGpus: -1}\n', 'c.yaml')).toThrow("'executor.simulatedGpus' must be a whole number")
  })

  it('are marked simulated and said so in descriptions', () => {
    const [g] = simulatedGpuInfos(1, 2)
    expect(g).toMatchObject({ index: 2, simulated: true, name: 'simulated GPU' })
    expect(describeResources(offer([g]))).toContain('[simulated]')
  })

  it('satisfy a GPU request only with the opt-in', () => {
    const r = offer(simulatedGpuInfos(1))
    expect(satisfies(r, { gpu: 1 })).toEqual({ ok: false, why: expect.stringContaining('--simulated-gpus') })
    expect(satisfies(r, { gpu: 1 }, true).ok).toBe(true)
    // positive control: a real GPU needs no opt-in
    expect(satisfies(offer([REAL_GPU]), { gpu: 1 }).ok).toBe(true)
  })

  it('placement never chooses a simulated GPU without the opt-in, and says how to opt in', async () => {
    const remote = new FixedOffers({ [SIM]: offer(simulatedGpuInfos(1)) }, offer([]))
    const err = await remote.place({ gpu: 1 }).catch((e: Error) => e)
    expect(err).toBeInstanceOf(Error)
    expect((err as Error).name).toBe('NoEligiblePeerError')
    expect((err as Error).message).toContain('mlp repro --simulated-gpus')
    expect((err as Error).message).toContain('mlp repro --local')
    expect(await remote.place({ gpu: 1, allowSimulated: true })).toEqual([SIM])
  })

  it('with a real GPU peer too, placement picks the real one unless opted in to simulated', async () => {
    const remote = new FixedOffers({ [SIM]: offer(simulatedGpuInfos(1)), [REAL]: offer([REAL_GPU]) }, offer([]))
    expect(await remote.place({ gpu: 1 })).toEqual([REAL])
    expect((await remote.place({ gpu: 1, allowSimulated: true })).includes(SIM)).toBe(true)
  })

  it('this machine\'s own simulated GPU runs a stage here only with the opt-in', async () => {
    const remote = new FixedOffers({ [REAL]: offer([REAL_GPU]) }, offer(simulatedGpuInfos(1)))
    expect(await remote.place({ gpu: 1 })).toEqual([REAL])
    expect(await remote.place({ gpu: 1, allowSimulated: true })).toBe('local')
  })
})
