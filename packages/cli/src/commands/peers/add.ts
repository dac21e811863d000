import { Args } from '@oclif/core'
import type { PeerInfo } from '@mlp/proto'
import { BaseCommand } from '../../base-command.js'

export default class PeersAdd extends BaseCommand<typeof PeersAdd> {
  static override summary = 'Connect to a peer now and keep it connected across restarts'
  static override examples = ['<%= config.bin %> peers add /ip4/192.168.1.20/tcp/4737/p2p/12D3KooWRm...']
  static override args = {
    multiaddr: Args.string({ description: "the peer's address, as printed by `mlp id` on that machine", required: true })
  }

  async run (): Promise<PeerInfo> {
    const peer = await this.call('peers/add', { addr: this.args.multiaddr }, (e) => `dialing ${e.detail.addr}...`)
    this.log(`connected to ${peer.peerId}${peer.latencyMs == null ? '' : ` (${peer.latencyMs} ms)`}; remembered`)
    return peer
  }
}
