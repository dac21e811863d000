import { readFile, rename, writeFile } from 'node:fs/promises'
import { peerIdFromString } from '@libp2p/peer-id'
import { InvalidPeerIdError, TRUST_ROLES, type TrustEntry, type TrustRole } from '@mlp/proto'

/** Called with the roles a peer just lost. */
export type RevokeListener = (peer: string, lost: ReadonlySet<TrustRole>) => void

/**
 * What this machine lets each peer do, in `MLP_HOME/trust.json`. Running code
 * needs both sides' consent: `run` on the executor (that peer's stages may run
 * here) and `results` on the requester (send stages there and believe its
 * signed results). Nobody holds a role by default, and a swarm key implies none.
 *
 * File format: `{ "peers": { "<peerId>": ["results", "run"] } }`. The first
 * release wrote a plain array of peer ids, each allowed to run stages here:
 * it is read as `run` grants and rewritten in the new format on the next change.
 */
export class TrustGrants {
  private grants = new Map<string, Set<TrustRole>>()
  private readonly listeners = new Set<RevokeListener>()

  constructor (private readonly file: string) {}

  async load (): Promise<void> {
    let text: string
    try {
      text = await readFile(this.file, 'utf8')
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return
      throw err
    }
    this.grants = parseGrants(JSON.parse(text) as unknown)
  }

  /** The roles `peer` holds here (empty for a stranger). Any role makes a peer a teammate. */
  roles (peer: string): Set<TrustRole> {
    return new Set(this.grants.get(peer) ?? [])
  }

  /** Whether `peer` holds `role` here. */
  has (peer: string, role: TrustRole): boolean {
    return this.grants.get(peer)?.has(role) === true
  }

  /** Every peer holding at least one role. */
  peers (): string[] {
    return [...this.grants.keys()]
  }

  /** Every peer with at least one role, sorted by peer id. */
  list (): TrustEntry[] {
    return [...this.grants.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([peerId, roles]) => ({ peerId, roles: sortRoles(roles) }))
  }

  /** Grants `roles` to `peer` (added to what it holds). */
  async add (peer: string, roles: TrustRole[]): Promise<TrustEntry[]> {
    try {
      peerIdFromString(peer)
    } catch (err) {
      throw new InvalidPeerIdError(`'${peer}' is not a peer id (they look like 12D3KooW...; see \`mlp id\` on that machine)`, { cause: err })
    }
    const held = this.grants.get(peer) ?? new Set<TrustRole>()
    for (const r of roles) held.add(r)
    this.grants.set(peer, held)
    await this.save()
    return this.list()
  }

  /** Takes `roles` (default: all) from `peer`, then tells the listeners, which stop what it may no longer do. */
  async remove (peer: string, roles: TrustRole[] = [...TRUST_ROLES]): Promise<TrustEntry[]> {
    const held = this.grants.get(peer)
    const lost = new Set(roles.filter((r) => held?.has(r) === true))
    for (const r of lost) held?.delete(r)
    if (held != null && held.size === 0) this.grants.delete(peer)
    await this.save()
    if (lost.size > 0) for (const l of this.listeners) l(peer, lost)
    return this.list()
  }

  /** Registers a listener for revoked roles; returns a function that unregisters it. */
  onRevoke (listener: RevokeListener): () => void {
    this.listeners.add(listener)
    return () => { this.listeners.delete(listener) }
  }

  private async save (): Promise<void> {
    const peers: Record<string, TrustRole[]> = {}
    for (const e of this.list()) peers[e.peerId] = e.roles
    const tmp = `${this.file}.tmp`
    await writeFile(tmp, JSON.stringify({ peers }, null, 2) + '\n', { mode: 0o600 })
    await rename(tmp, this.file)
  }
}

function sortRoles (roles: Iterable<TrustRole>): TrustRole[] {
  return TRUST_ROLES.filter((r) => new Set(roles).has(r))
}

/** Reads either format of trust.json; unknown roles and non-string ids are dropped rather than trusted. */
function parseGrants (doc: unknown): Map<string, Set<TrustRole>> {
  const grants = new Map<string, Set<TrustRole>>()
  // the first release: a list of peers allowed to run stages here
  if (Array.isArray(doc)) {
    for (const p of doc) if (typeof p === 'string') grants.set(p, new Set<TrustRole>(['run']))
    return grants
  }
  const peers = (doc as { peers?: unknown } | null)?.peers
  if (peers == null || typeof peers !== 'object') return grants
  for (const [peer, roles] of Object.entries(peers as Record<string, unknown>)) {
    if (!Array.isArray(roles)) continue
    const known = new Set(roles.filter((r): r is TrustRole => TRUST_ROLES.includes(r as TrustRole)))
    if (known.size > 0) grants.set(peer, known)
  }
  return grants
}
