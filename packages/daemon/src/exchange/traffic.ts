/** Bytes exchanged with one peer since the daemon started. */
export interface PeerTraffic {
  bytesSent: number
  bytesReceived: number
}

/** Per-peer byte counters for `mlp peers`. */
export class Traffic {
  private readonly peers = new Map<string, PeerTraffic>()

  add (peer: string, direction: 'in' | 'out', bytes: number): void {
    let t = this.peers.get(peer)
    if (t == null) {
      t = { bytesSent: 0, bytesReceived: 0 }
      this.peers.set(peer, t)
    }
    if (direction === 'in') t.bytesReceived += bytes
    else t.bytesSent += bytes
  }

  get (peer: string): PeerTraffic {
    return this.peers.get(peer) ?? { bytesSent: 0, bytesReceived: 0 }
  }
}
