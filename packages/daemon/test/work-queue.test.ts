import { CID } from 'multiformats/cid'
import { identity } from 'multiformats/hashes/identity'
import { describe, expect, it } from 'vitest'
import { WorkQueue } from '../src/exchange/work-queue.js'

const cids = Array.from({ length: 8 }, (_, i) => CID.createV1(0x55, identity.digest(new Uint8Array([i]))))

describe('the work of one fetch wave', () => {
  it('splits blocks into one range per peer, and an idle peer helps with the largest range left', () => {
    const q = new WorkQueue(cids, ['a', 'b'])
    expect(q.take('a', 2, false)).toEqual(cids.slice(0, 2))
    expect(q.take('b', 10, false)).toEqual(cids.slice(4, 8))
    // a's range has 2 left: b, idle, steals from its far end
    expect(q.take('b', 1, true)).toEqual([cids[3]])
    expect(q.remaining()).toBe(1)
  })

  it('a block a peer said it lacks goes to anyone but that peer, until forgetMissing', () => {
    const q = new WorkQueue(cids.slice(0, 2), ['a', 'b'])
    const [x] = q.take('a', 1, false)
    q.giveBack([x], 'a')
    expect(q.unservable(['a'])).toEqual(x)
    expect(q.unservable(['a', 'b'])).toBeUndefined()
    expect(q.take('a', 5, false)).toEqual([])
    q.forgetMissing()
    expect(q.unservable(['a'])).toBeUndefined()
    expect(q.take('a', 5, false)).toEqual([x])
  })

  it('blocks lost with a peer that failed are not barred from it: it still has them', () => {
    const q = new WorkQueue(cids.slice(0, 2), ['seed'])
    const taken = q.take('seed', 2, false)
    q.giveBack(taken)
    expect(q.unservable(['seed'])).toBeUndefined()
    expect(q.take('seed', 2, false)).toEqual(taken)
  })
})

describe('wantsPerPeer', () => {
  it('shares the requests in flight among a fetch\'s peers, at least two each', async () => {
    const { wantsPerPeer } = await import('../src/exchange/fetch.js')
    const { WANTS_IN_FLIGHT, MIN_WANTS_PER_PEER } = await import('../src/exchange/constants.js')
    expect(wantsPerPeer(1)).toBe(WANTS_IN_FLIGHT)
    expect(wantsPerPeer(0)).toBe(WANTS_IN_FLIGHT)
    expect(wantsPerPeer(2) * 2).toBe(WANTS_IN_FLIGHT)
    expect(wantsPerPeer(3) * 3).toBeGreaterThanOrEqual(WANTS_IN_FLIGHT)
    expect(wantsPerPeer(4) * 4).toBe(WANTS_IN_FLIGHT)
    expect(wantsPerPeer(20)).toBe(MIN_WANTS_PER_PEER)
  })
})
