import type { DaemonStatus } from '@mlp/proto'
import { BaseCommand } from '../../base-command.js'
import { formatDuration } from '../../format.js'

export default class DaemonStatusCommand extends BaseCommand<typeof DaemonStatusCommand> {
  static override summary = 'Show whether the daemon runs, and its identity'
  static override examples = ['<%= config.bin %> daemon status', '<%= config.bin %> daemon status --json']

  async run (): Promise<DaemonStatus> {
    const s = await this.call('daemon/status', {})
    this.log(`running    pid ${s.pid}, up ${formatDuration(s.uptimeMs)} (mlp ${s.version})`)
    this.log(`home       ${s.home}`)
    this.log(`peer id    ${s.peerId}`)
    for (const a of s.addrs) this.log(`listening  ${a}`)
    this.log(`peers      ${s.connectedPeers} connected`)
    return s
  }
}
