import { BadRequestError, DialError } from '@mlp/proto'
import type { DaemonStatus } from '@mlp/proto'
import { DIAL_TIMEOUT_MS } from '../constants.js'
import { parseMultiaddr } from '../multiaddrs.js'
import type { MlpNode } from '../net/node.js'
import type { Peering } from '../net/peering.js'
import type { PeerTable } from '../net/peers.js'
import type { Handlers } from './server.js'
import { deadline } from '../deadline.js'

/** What the route handlers need from the daemon. */
export interface RoutesComponents {
  node: MlpNode
  peers: PeerTable
  peering: Peering
  status: () => Omit<DaemonStatus, 'peerId' | 'addrs' | 'connectedPeers'>
  /** Asks the daemon to shut down after the current response is sent. */
  requestStop: () => void
}

function stringField (body: Record<string, unknown>, key: string): string {
  const value = body[key]
  if (typeof value !== 'string' || value === '') throw new BadRequestError(`'${key}' must be a non-empty string`)
  return value
}

/** Routes about the daemon itself and its peers. */
export type NodeRoute = 'id' | 'daemon/status' | 'daemon/stop' | 'peers/ls' | 'peers/add'

/** Handlers of the daemon and peer routes. */
export function createHandlers (c: RoutesComponents): Pick<Handlers, NodeRoute> {
  const id = (): { peerId: string, addrs: string[] } => ({
    peerId: c.node.peerId.toString(),
    addrs: c.node.getMultiaddrs().map((a) => a.toString())
  })
  return {
    id: async () => id(),
    'daemon/status': async () => ({ ...c.status(), ...id(), connectedPeers: c.peers.connectedCount() }),
    'daemon/stop': async () => {
      c.requestStop()
      return { stopping: true }
    },
    'peers/ls': async (body, { signal }) => await c.peers.list({ ping: body.ping, signal }),
    'peers/add': async (body, { signal, progress }) => {
      const addr = parseMultiaddr(stringField(body, 'addr'))
      const target = addr.getComponents().find((x) => x.name === 'p2p')?.value
      if (target === c.node.peerId.toString()) throw new DialError(`${addr.toString()} is this daemon's own address`)
      progress({ name: 'net:dial', detail: { addr: addr.toString() } })
      let remote: string
      try {
        // libp2p hands back an open connection to the same peer without dialing
        // the new address: force a dial, or a wrong port would be 'connected'
        // and remembered in place of the working one (then close the extra connection)
        const connected = target != null && c.node.getConnections().some((x) => x.status === 'open' && x.remotePeer.toString() === target)
        const conn = await c.node.dial(addr, { force: connected, signal: deadline(DIAL_TIMEOUT_MS, signal) })
        remote = conn.remotePeer.toString()
        if (connected) await conn.close().catch(() => {})
      } catch (err) {
        const reason = (err as Error).name === 'TimeoutError' || (err as Error).name === 'AbortError' ? `no answer within ${DIAL_TIMEOUT_MS / 1000} s` : (err as Error).message
        throw new DialError(`could not connect to ${addr.toString()}: ${reason}; check the address, that the peer's daemon runs, and that both use the same swarm key (or none)`, { cause: err })
      }
      const full = target == null ? addr.encapsulate(`/p2p/${remote}`) : addr
      await c.peering.remember(remote, full)
      return await c.peers.describe(remote, true, { signal })
    }
  }
}
