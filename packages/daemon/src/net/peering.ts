import { readFile, rename, writeFile } from 'node:fs/promises'
import { peerIdFromString } from '@libp2p/peer-id'
import type { PeerId } from '@libp2p/interface'
import type { Multiaddr } from '@multiformats/multiaddr'
import { REDIAL_MAX_MS, REDIAL_MIN_MS } from '../constants.js'
import type { Logger } from '../logger.js'
import { parseMultiaddr } from '../multiaddrs.js'
import type { MlpNode } from './node.js'
import { deadline } from '../deadline.js'

/** A peer the user asked us to stay connected to (`mlp peers add`). */
export interface RememberedPeer {
  peerId: string
  addrs: string[]
}

/** Components {@link Peering} needs. */
export interface PeeringComponents {
  node: MlpNode
  log: Logger
}

/** Options of {@link Peering}. */
export interface PeeringInit {
  /** JSON file holding the remembered peers. */
  file: string
  /** Addresses dialed at start and kept connected, but not written to the file. */
  bootstrap: string[]
}

interface Target {
  addrs: Multiaddr[]
  peerId?: string
  delay: number
  timer?: NodeJS.Timeout
  remembered: boolean
}

/**
 * Keeps connections to remembered peers and bootstrap addresses, like Kubo's
 * peering service: dial at start, redial after a disconnect or a failed dial
 * with exponential backoff ({@link REDIAL_MIN_MS} doubling to {@link REDIAL_MAX_MS}).
 */
export class Peering {
  private readonly targets: Target[] = []
  private running = false
  private readonly onDisconnect = (evt: CustomEvent<PeerId>): void => {
    const id = evt.detail.toString()
    for (const t of this.targets) {
      if (t.peerId === id) {
        t.delay = REDIAL_MIN_MS
        this.schedule(t)
      }
    }
  }

  constructor (private readonly components: PeeringComponents, private readonly init: PeeringInit) {}

  /** Loads remembered peers and starts dialing them and the bootstrap addresses. */
  async start (): Promise<void> {
    this.running = true
    for (const peer of await this.load()) {
      this.targets.push({ peerId: peer.peerId, addrs: peer.addrs.map((a) => parseMultiaddr(a)), delay: REDIAL_MIN_MS, remembered: true })
    }
    for (const addr of this.init.bootstrap) {
      const ma = parseMultiaddr(addr, 'bootstrap address')
      this.targets.push({ peerId: ma.getComponents().find((c) => c.name === 'p2p')?.value, addrs: [ma], delay: REDIAL_MIN_MS, remembered: false })
    }
    this.components.node.addEventListener('peer:disconnect', this.onDisconnect)
    for (const t of this.targets) void this.dial(t)
  }

  /** Stops every pending redial. */
  stop (): void {
    this.running = false
    this.components.node.removeEventListener('peer:disconnect', this.onDisconnect)
    for (const t of this.targets) clearTimeout(t.timer)
  }

  /** Peer ids the user asked to remember. */
  rememberedIds (): Set<string> {
    return new Set(this.targets.filter((t) => t.remembered && t.peerId != null).map((t) => t.peerId as string))
  }

  /** Records a peer we just connected to, persists it, and keeps it connected from now on. */
  async remember (peerId: string, addr: Multiaddr): Promise<void> {
    const existing = this.targets.find((t) => t.remembered && t.peerId === peerId)
    if (existing != null) {
      if (!existing.addrs.some((a) => a.equals(addr))) existing.addrs.unshift(addr)
    } else {
      this.targets.push({ peerId, addrs: [addr], delay: REDIAL_MIN_MS, remembered: true })
    }
    await this.save()
  }

  private async dial (t: Target): Promise<void> {
    if (!this.running) return
    const node = this.components.node
    if (t.peerId != null && node.getConnections(peerIdFromString(t.peerId)).length > 0) return
    for (const addr of t.addrs) {
      try {
        const conn = await node.dial(addr, { signal: deadline(REDIAL_MAX_MS) })
        t.peerId ??= conn.remotePeer.toString()
        t.delay = REDIAL_MIN_MS
        this.components.log.info('connected to remembered peer', { peer: t.peerId, addr: addr.toString() })
        return
      } catch (err) {
        this.components.log.debug('redial failed', { addr: addr.toString(), error: (err as Error).message })
      }
    }
    this.schedule(t)
  }

  private schedule (t: Target): void {
    if (!this.running) return
    clearTimeout(t.timer)
    t.timer = setTimeout(() => { void this.dial(t) }, t.delay)
    t.timer.unref()
    t.delay = Math.min(t.delay * 2, REDIAL_MAX_MS)
  }

  private async load (): Promise<RememberedPeer[]> {
    let text: string
    try {
      text = await readFile(this.init.file, 'utf8')
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return []
      throw err
    }
    const peers = JSON.parse(text) as RememberedPeer[]
    return peers.filter((p) => {
      try {
        peerIdFromString(p.peerId)
        return Array.isArray(p.addrs)
      } catch {
        this.components.log.warn('ignoring malformed remembered peer', { file: this.init.file, peer: p.peerId })
        return false
      }
    })
  }

  private async save (): Promise<void> {
    const peers: RememberedPeer[] = this.targets
      .filter((t) => t.remembered && t.peerId != null)
      .map((t) => ({ peerId: t.peerId as string, addrs: t.addrs.map((a) => a.toString()) }))
    const tmp = `${this.init.file}.tmp`
    await writeFile(tmp, JSON.stringify(peers, null, 2) + '\n')
    await rename(tmp, this.init.file)
  }
}
