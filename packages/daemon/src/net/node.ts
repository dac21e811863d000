import { lessCopyingNoise } from './noise-copies.js'
import { yamux } from '@chainsafe/libp2p-yamux'
import { identify, type Identify } from '@libp2p/identify'
import { kadDHT, removePublicAddressesMapper, type KadDHT } from '@libp2p/kad-dht'
import { mdns } from '@libp2p/mdns'
import { ping, type Ping } from '@libp2p/ping'
import { privateNetwork } from './pnet.js'
import { corkedTcp } from './corked-tcp.js'
import { createLibp2p, type Libp2p } from 'libp2p'
import { guardYamuxWindowUpdates } from './yamux-guard.js'
import { batchYamuxWindowUpdates } from './yamux-window.js'
import type { PrivateKey } from '@libp2p/interface'
import { AddressInUseError } from '@mlp/proto'

/** Services every mlp node runs. */
// a type alias, not an interface: libp2p's ServiceMap needs an index signature
export type NodeServices = {
  identify: Identify
  ping: Ping
  dht: KadDHT
}

/**
 * The largest receive window a yamux stream grows to (the library's default
 * is 16 MiB). A window is what a peer may send ahead of what we have read;
 * during a fetch the fetcher is the slower side, so its streams filled up to
 * the window and held it: 1 GiB fetches peaked at 241-266 MB RSS with 16 MiB
 * and at 210-216 MB with 2 MiB, no slower. 2 MiB covers a 1 Gbit/s link
 * with 16 ms of round trip, far above a LAN's.
 */
export const MAX_STREAM_WINDOW_BYTES = 2 * 1024 * 1024

/** Ping streams one connection may have open each way: one per 10 s heartbeat over the 120 s longest ping timeout. */
export const PING_STREAMS = 13

/** An mlp libp2p node. */
export type MlpNode = Libp2p<NodeServices>

/** Options of {@link createNode}. */
export interface NodeInit {
  privateKey: PrivateKey
  /** Multiaddrs to listen on. */
  listen: string[]
  /** Run mDNS discovery on the LAN. */
  mdns: boolean
  /** Contents of a swarm key file: only daemons with the same key can connect. */
  swarmKey?: Uint8Array
}

/**
 * Builds and starts the libp2p node: TCP, Noise, yamux, identify, ping and,
 * unless disabled, mDNS. A listen address already taken surfaces as
 * {@link AddressInUseError} naming the address.
 */
export async function createNode (init: NodeInit): Promise<MlpNode> {
  guardYamuxWindowUpdates()
  batchYamuxWindowUpdates()
  try {
    return await createLibp2p({
      privateKey: init.privateKey,
      addresses: { listen: init.listen },
      transports: [corkedTcp()],
      connectionEncrypters: [lessCopyingNoise()],
      streamMuxers: [yamux({ streamOptions: { maxStreamWindowSize: MAX_STREAM_WINDOW_BYTES } })],
      connectionProtector: init.swarmKey != null ? privateNetwork(init.swarmKey) : undefined,
      connectionManager: {
        // on a LAN a handshake takes milliseconds: half-open connections (a
        // flood, a dead peer) are dropped after 3 s instead of libp2p's 10 s
        inboundUpgradeTimeout: 3_000,
        maxIncomingPendingConnections: 32
      },
      // libp2p pings every connection and aborts it when a ping takes longer
      // than its adaptive timeout (from 5 s): a seed saturated by twenty
      // fetchers answered late and had every transfer reset. Dead peers still
      // go (a closed socket is noticed at once), only later for a silent one.
      connectionMonitor: { pingTimeout: { minTimeout: 30_000, maxTimeout: 120_000 } },
      peerDiscovery: init.mdns ? [mdns()] : [],
      services: {
        identify: identify(),
        // the connection monitor pings every 10 s and waits up to
        // pingTimeout.maxTimeout for an answer: with the ping protocol's
        // default of one stream each way, a ping still waiting when the next
        // began failed to open ("Too many outbound protocol streams") and the
        // monitor aborted a live connection (a Slurm job's, in CI)
        ping: ping({ maxOutboundStreams: PING_STREAMS, maxInboundStreams: PING_STREAMS }),
        // LAN DHT for provider records: server mode, or records go nowhere
        // until the node sees a public address, which a lab LAN never gives
        dht: kadDHT({ protocol: '/ipfs/lan/kad/1.0.0', clientMode: false, peerInfoMapper: removePublicAddressesMapper })
      }
    })
  } catch (err) {
    if (isAddressInUse(err)) {
      throw new AddressInUseError(`cannot listen on ${init.listen.join(', ')}: address already in use; pick another with --listen or stop the process using it`, { cause: err })
    }
    throw err
  }
}

function isAddressInUse (err: unknown): boolean {
  let e = err as { code?: string, message?: string, cause?: unknown, errors?: unknown[] } | undefined
  for (let depth = 0; e != null && depth < 5; depth++) {
    if (e.code === 'EADDRINUSE' || String(e.message ?? '').includes('EADDRINUSE')) return true
    e = (e.cause ?? e.errors?.[0]) as typeof e
  }
  return false
}
