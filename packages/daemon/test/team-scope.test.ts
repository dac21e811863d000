import * as dagPb from '@ipld/dag-pb'
import { describe, expect, it } from 'vitest'
import { DAG_PB_CODEC, RAW_CODEC } from '../src/store/constants.js'
import { cidOf } from '../src/store/hash.js'
import { TeamList } from '../src/trust/team.js'
import { PushGrants } from '../src/trust/team-grants.js'
import { TeamPolicy } from '../src/trust/team-policy.js'
import { StrangerScope } from '../src/trust/team-scope.js'

/** A raw leaf and a dag-pb node linking to `links`. */
function leaf (text: string): { cid: ReturnType<typeof cidOf>, bytes: Uint8Array } {
  const bytes = new TextEncoder().encode(text)
  return { cid: cidOf(RAW_CODEC, bytes), bytes }
}
function node (links: Array<{ cid: ReturnType<typeof cidOf> }>): { cid: ReturnType<typeof cidOf>, bytes: Uint8Array } {
  const bytes = dagPb.encode({ Links: links.map((l) => ({ Hash: l.cid, Tsize: 1 })) })
  return { cid: cidOf(DAG_PB_CODEC, bytes), bytes }
}

describe('what a stranger may ask for', () => {
  const [x, y, secret] = [leaf('x'), leaf('y'), leaf('only added')]
  const mid = node([x, y])
  const root = node([mid, x])

  it('a shared root, then only what served blocks link to', () => {
    const scope = new StrangerScope((cid) => cid === root.cid.toString())
    expect(scope.allows(root.cid)).toBe(true)
    // cold: inside the shared DAG, but nothing served links to it yet
    expect(scope.allows(mid.cid)).toBe(false)
    expect(scope.allows(x.cid)).toBe(false)
    scope.served(root.cid, root.bytes)
    expect(scope.allows(mid.cid)).toBe(true)
    expect(scope.allows(x.cid)).toBe(true)
    expect(scope.allows(y.cid)).toBe(false)
    scope.served(mid.cid, mid.bytes)
    expect(scope.allows(y.cid)).toBe(true)
    expect(scope.allows(secret.cid)).toBe(false)
  })

  it('a block served may be asked for again (a retry); a block never linked never can', () => {
    const scope = new StrangerScope((cid) => cid === root.cid.toString())
    scope.served(root.cid, root.bytes)
    scope.served(x.cid, x.bytes)
    scope.served(x.cid, x.bytes)
    expect(scope.allows(x.cid)).toBe(true)
    expect(scope.allows(secret.cid)).toBe(false)
  })
})

describe('who is a teammate', () => {
  const peer = '12D3KooWRBhwfeP2Y4TCx1SM6s9rUoHhR5nVYEvL3FJ9j6SsoVBk'
  const other = '12D3KooWQYhTNQdmr3ArTeUHRYzFg94BKyTkoWBDWez9kSCVe2Xo'

  it('added, by trust role, or everyone with a swarm key', async () => {
    const team = new TeamList('/nonexistent/team.json')
    const roles = new Map<string, Array<'run' | 'results'>>([[other, ['results']]])
    const policy = (swarmKey: boolean): TeamPolicy => new TeamPolicy({ team, swarmKey, roles: (p) => roles.get(p) ?? [], rolePeers: () => roles.keys(), replicaBytes: () => 0 })
    expect(policy(false).isTeammate(peer)).toBe(false)
    expect(policy(false).isTeammate(other)).toBe(true)
    expect(policy(false).via(other)).toEqual(['results'])
    expect(policy(true).isTeammate(peer)).toBe(true)
    expect(policy(true).members([peer]).map((m) => [m.peerId, m.via])).toEqual([[other, ['swarm-key', 'results']], [peer, ['swarm-key']]].sort((a, b) => (a[0] as string).localeCompare(b[0] as string)))
  })

  it('a peer we push to reads the pushed roots only while the push runs', () => {
    const grants = new PushGrants()
    const release = grants.grant(peer, ['root'])
    expect(grants.allows(peer, 'root')).toBe(true)
    expect(grants.allows(other, 'root')).toBe(false)
    release()
    expect(grants.allows(peer, 'root')).toBe(false)
  })
})
