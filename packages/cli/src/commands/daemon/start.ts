import { Flags } from '@oclif/core'
import { DEFAULT_PORT, parseMultiaddr, runDaemon } from '@mlp/daemon'
import { BaseCommand } from '../../base-command.js'
import { spawnDaemon, type StartedDaemon } from '../../daemon-process.js'

export default class DaemonStart extends BaseCommand<typeof DaemonStart> {
  static override summary = 'Start the mlp daemon for this MLP_HOME'
  static override description = `Starts the daemon in the background, waits until it answers, and prints its peer id and addresses. By default it listens on every interface on TCP port ${DEFAULT_PORT} and finds teammates with mDNS. Flags override MLP_HOME/config.yaml.`
  static override examples = [
    '<%= config.bin %> daemon start',
    '<%= config.bin %> daemon start --listen /ip4/0.0.0.0/tcp/4737 --bootstrap /ip4/192.168.1.20/tcp/4737/p2p/12D3KooW...',
    'MLP_HOME=/tmp/alice <%= config.bin %> daemon start --listen /ip4/127.0.0.1/tcp/0 --no-mdns'
  ]

  static override flags = {
    listen: Flags.string({ description: 'multiaddr to listen on (repeatable)', multiple: true, multipleNonGreedy: true }),
    bootstrap: Flags.string({ description: 'peer multiaddr to connect to and keep connected (repeatable)', multiple: true, multipleNonGreedy: true }),
    mdns: Flags.boolean({ description: 'discover peers on the LAN with mDNS', allowNo: true }),
    foreground: Flags.boolean({ description: 'run attached to this terminal (for systemd and containers)', default: false })
  }

  async run (): Promise<StartedDaemon | undefined> {
    const { listen, bootstrap, mdns, foreground } = this.flags
    for (const a of [...(listen ?? []), ...(bootstrap ?? [])]) parseMultiaddr(a)
    const overrides = { listen, bootstrap, mdns }
    if (foreground) {
      process.exitCode = await runDaemon({ home: this.home, overrides, logToStderr: true })
      return undefined
    }
    const started = await spawnDaemon(this.home, overrides)
    this.log(`mlp daemon started (pid ${started.pid})`)
    this.log(`peer id: ${started.peerId}`)
    for (const a of started.addrs) this.log(`listening: ${a}`)
    return started
  }
}
