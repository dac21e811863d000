import { peerIdFromString } from '@libp2p/peer-id'
import { InvalidPeerIdError } from '@mlp/proto'
import { readJsonFile, writeJsonAtomic } from './team-json.js'

/** One peer added with `mlp team add`. */
export interface TeamEntry {
  peerId: string
  addedAt: string
}

/** Checks that `peer` is a peer id, with a message saying where to find one. */
export function checkPeerId (peer: string): void {
  try {
    peerIdFromString(peer)
  } catch (err) {
    throw new InvalidPeerIdError(`'${peer}' is not a peer id (they look like 12D3KooW...; see \`mlp id\` on that machine)`, { cause: err })
  }
}

/**
 * Peers added with `mlp team add`, in `MLP_HOME/team.json` (mode 0600,
 * written atomically). Teammates by swarm key or trust role are not listed
 * here: they follow from the key and the trust list.
 */
export class TeamList {
  private readonly entries = new Map<string, TeamEntry>()

  constructor (private readonly file: string) {}

  async load (): Promise<void> {
    const data = await readJsonFile(this.file)
    if (data == null) return
    const peers = (data as { peers?: unknown }).peers
    if (!Array.isArray(peers)) throw new Error(`${this.file}: expected {"peers": [...]}`)
    for (const p of peers as Array<Partial<TeamEntry>>) {
      if (typeof p?.peerId === 'string') this.entries.set(p.peerId, { peerId: p.peerId, addedAt: typeof p.addedAt === 'string' ? p.addedAt : '' })
    }
  }

  has (peer: string): boolean {
    return this.entries.has(peer)
  }

  list (): TeamEntry[] {
    return [...this.entries.values()].sort((a, b) => a.peerId.localeCompare(b.peerId))
  }

  async add (peer: string): Promise<void> {
    checkPeerId(peer)
    if (this.entries.has(peer)) return
    this.entries.set(peer, { peerId: peer, addedAt: new Date().toISOString() })
    await this.save()
  }

  /** Removes `peer`; false when it was not added. */
  async remove (peer: string): Promise<boolean> {
    if (!this.entries.delete(peer)) return false
    await this.save()
    return true
  }

  private async save (): Promise<void> {
    await writeJsonAtomic(this.file, { peers: this.list() })
  }
}
