import type { PeerInfo } from '@mlp/proto'
import { BaseCommand } from '../../base-command.js'
import { formatBytes, table } from '../../format.js'
import type { Resources } from '@mlp/proto'

function resources (r: Resources): string {
  // a login-node daemon: its GPUs are a Slurm partition's, and a busy one still takes stages (they queue there)
  if (r.slurm != null) {
    const s = r.slurm
    return s.error != null ? `Slurm partition ${s.partition}: no capacity now (${s.error})` : `Slurm partition ${s.partition}: ${s.gpusTotal} GPU(s) ${[...new Set(r.gpus.map((g) => g.name))].join(', ')}, ${s.gpusFree} free, ${r.runningJobs} jobs running`
  }
  // a simulated GPU (executor.simulatedGpus) is said so first, so it is never read as a real device
  const gpus = r.gpus.length === 0 ? 'no GPU' : r.gpus.map((g) => g.simulated === true ? 'SIMULATED GPU (no device; `mlp repro --simulated-gpus` to use)' : `${g.name} ${g.memoryFreeMib}/${g.memoryTotalMib} MiB free`).join(', ')
  return `${gpus}, ${r.cpus} CPUs, ${r.runningJobs} jobs running`
}

export default class Peers extends BaseCommand<typeof Peers> {
  static override summary = 'List peers: connected now, seen since start, or remembered'
  static override examples = ['<%= config.bin %> peers', '<%= config.bin %> peers --json']

  async run (): Promise<PeerInfo[]> {
    const peers = await this.call('peers/ls', { ping: true })
    if (peers.length === 0) {
      this.log('no peers yet: add one with `mlp peers add <multiaddr>` (see `mlp id` on the other machine)')
      return peers
    }
    this.log(table(['PEER', 'STATE', 'LATENCY', 'SENT', 'RECEIVED', 'RESOURCES', 'ADDRESS'], peers.map((p) => [
      p.peerId + (p.remembered ? ' *' : ''),
      p.state,
      p.latencyMs == null ? '-' : `${p.latencyMs} ms`,
      formatBytes(p.bytesSent),
      formatBytes(p.bytesReceived),
      p.resources == null ? '-' : resources(p.resources),
      p.addrs[0] ?? '-'
    ])))
    if (peers.some((p) => p.remembered)) this.log('* remembered: redialed whenever the connection drops')
    return peers
  }
}
