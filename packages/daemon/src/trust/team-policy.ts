import type { TeamMember, TeamVia, TrustRole } from '@mlp/proto'
import type { TeamList } from './team.js'

/** Components of {@link TeamPolicy}. */
export interface TeamPolicyComponents {
  team: TeamList
  /** The daemon runs with a swarm key: only same-key peers can connect at all. */
  swarmKey: boolean
  /** Trust roles granted to `peer` (`mlp trust add --run|--results`): any one makes a teammate. */
  roles: (peer: string) => Iterable<TrustRole>
  /** Every peer holding a trust role. */
  rolePeers: () => Iterable<string>
  /** Bytes of copies kept for `peer`. */
  replicaBytes: (peer: string) => number
}

/**
 * Who is a teammate: a peer that shares our swarm key (with a key, nobody
 * else can connect), one added with `mlp team add`, or one holding a trust
 * role. Everyone else is a stranger and sees only shared roots.
 */
export class TeamPolicy {
  constructor (private readonly c: TeamPolicyComponents) {}

  /** Whether this daemon runs with a swarm key (every peer that can connect is a teammate). */
  get swarmKey (): boolean {
    return this.c.swarmKey
  }

  /** Whether `peer` may read any block, see `Has` answers and push copies here. */
  isTeammate (peer: string): boolean {
    if (this.c.swarmKey || this.c.team.has(peer)) return true
    return this.c.roles(peer)[Symbol.iterator]().next().done !== true
  }

  /** Every reason `peer` is a teammate (empty for a stranger). */
  via (peer: string): TeamVia[] {
    const out: TeamVia[] = []
    if (this.c.swarmKey) out.push('swarm-key')
    if (this.c.team.has(peer)) out.push('added')
    for (const role of new Set(this.c.roles(peer))) out.push(role)
    return out
  }

  /** Known teammates: added ones, trust-role holders and, with a swarm key, every connected peer. */
  members (connected: string[]): TeamMember[] {
    const ids = new Set<string>([...this.c.team.list().map((e) => e.peerId), ...this.c.rolePeers()])
    if (this.c.swarmKey) for (const p of connected) ids.add(p)
    const live = new Set(connected)
    return [...ids].sort().map((peerId) => ({ peerId, via: this.via(peerId), connected: live.has(peerId), replicaBytes: this.c.replicaBytes(peerId) }))
  }
}
