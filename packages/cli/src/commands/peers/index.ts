import type { PeerInfo } from '@mlp/proto'
import { BaseCommand } from '../../base-command.js'
import { table } from '../../format.js'

export default class Peers extends BaseCommand<typeof Peers> {
  static override summary = 'List peers: connected now, seen since start, or remembered'
  static override examples = ['<%= config.bin %> peers', '<%= config.bin %> peers --json']

  async run (): Promise<PeerInfo[]> {
    const peers = await this.call('peers/ls', { ping: true })
    if (peers.length === 0) {
      this.log('no peers yet: add one with `mlp peers add <multiaddr>` (see `mlp id` on the other machine)')
      return peers
    }
    this.log(table(['PEER', 'STATE', 'LATENCY', 'ADDRESS'], peers.map((p) => [
      p.peerId + (p.remembered ? ' *' : ''),
      p.state,
      p.latencyMs == null ? '-' : `${p.latencyMs} ms`,
      p.addrs[0] ?? '-'
    ])))
    if (peers.some((p) => p.remembered)) this.log('* remembered: redialed whenever the connection drops')
    return peers
  }
}
