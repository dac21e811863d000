import { peerIdFromString } from '@libp2p/peer-id'
import type { PeerId } from '@libp2p/interface'
import type { PeerInfo, Resources } from '@mlp/proto'
import { PING_TIMEOUT_MS } from '../constants.js'
import type { Logger } from '../logger.js'
import type { MlpNode } from './node.js'
import { deadline } from '../deadline.js'

/** Most peers seen since start that {@link PeerTable} remembers (strangers can connect under new identities at will). */
export const MAX_SEEN_PEERS = 1000

/** Components {@link PeerTable} needs. */
export interface PeerTableComponents {
  node: MlpNode
  log: Logger
  /** Peer ids the peering service keeps connected. */
  remembered: () => Set<string>
  /** Exchange bytes sent to and received from a peer. */
  traffic: (peer: string) => { bytesSent: number, bytesReceived: number }
  /** What a connected peer offers for running stages. */
  resources?: (peer: string, signal?: AbortSignal) => Promise<Resources | undefined>
}

/**
 * The daemon's view of its peers: everyone connected now, everyone seen since
 * start (so a peer that went away shows as disconnected instead of vanishing),
 * and every remembered peer.
 */
export class PeerTable {
  /** In order of last connection, oldest first; at most {@link MAX_SEEN_PEERS} beyond those connected now. */
  private readonly seen = new Set<string>()
  private readonly onConnect = (evt: CustomEvent<PeerId>): void => {
    const id = evt.detail.toString()
    this.seen.delete(id)
    this.seen.add(id)
    this.bound()
    this.components.log.info('peer connected', { peer: id })
  }

  private readonly onDisconnect = (evt: CustomEvent<PeerId>): void => {
    this.components.log.info('peer disconnected', { peer: evt.detail.toString() })
  }

  constructor (private readonly components: PeerTableComponents) {}

  /** Forgets the oldest seen peers that are not connected now, down to {@link MAX_SEEN_PEERS}. */
  private bound (): void {
    if (this.seen.size <= MAX_SEEN_PEERS) return
    const connected = new Set(this.components.node.getPeers().map((p) => p.toString()))
    for (const id of this.seen) {
      if (this.seen.size <= MAX_SEEN_PEERS) break
      if (!connected.has(id)) this.seen.delete(id)
    }
  }

  /** Peer ids seen since start, oldest first (for tests). */
  seenIds (): string[] {
    return [...this.seen]
  }

  start (): void {
    this.components.node.addEventListener('peer:connect', this.onConnect)
    this.components.node.addEventListener('peer:disconnect', this.onDisconnect)
  }

  stop (): void {
    this.components.node.removeEventListener('peer:connect', this.onConnect)
    this.components.node.removeEventListener('peer:disconnect', this.onDisconnect)
  }

  /** Number of peers with an open connection. */
  connectedCount (): number {
    return this.components.node.getPeers().length
  }

  /** Every known peer, connected ones first; pings connected peers for latency when asked. */
  async list (options: { ping?: boolean, signal?: AbortSignal } = {}): Promise<PeerInfo[]> {
    const node = this.components.node
    const remembered = this.components.remembered()
    const ids = new Set<string>([...node.getPeers().map((p) => p.toString()), ...this.seen, ...remembered])
    const peers = await Promise.all([...ids].map(async (id) => await this.describe(id, remembered.has(id), options)))
    return peers.sort((a, b) => (a.state === b.state ? a.peerId.localeCompare(b.peerId) : a.state === 'connected' ? -1 : 1))
  }

  /** One peer's entry. */
  async describe (id: string, remembered: boolean, options: { ping?: boolean, signal?: AbortSignal } = {}): Promise<PeerInfo> {
    const node = this.components.node
    const peerId = peerIdFromString(id)
    const conns = node.getConnections(peerId).filter((c) => c.status === 'open')
    const addrs = conns.map((c) => c.remoteAddr.toString())
    try {
      const stored = await node.peerStore.get(peerId)
      for (const a of stored.addresses) {
        const s = a.multiaddr.toString()
        if (!addrs.includes(s)) addrs.push(s)
      }
    } catch {
      // not in the peer store: only what the connections tell us
    }
    let latencyMs: number | null = null
    const resources = conns.length > 0 && options.ping !== false ? this.components.resources?.(id, options.signal) : undefined
    if (conns.length > 0 && options.ping !== false) {
      try {
        const signal = deadline(PING_TIMEOUT_MS, options.signal)
        latencyMs = await node.services.ping.ping(peerId, { signal })
      } catch {
        latencyMs = null
      }
    }
    return { peerId: id, addrs, state: conns.length > 0 ? 'connected' : 'disconnected', latencyMs, remembered, ...this.components.traffic(id), resources: await resources }
  }
}
