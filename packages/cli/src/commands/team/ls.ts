import type { TeamListing } from '@mlp/proto'
import { BaseCommand } from '../../base-command.js'
import { formatBytes, table } from '../../format.js'

/** `mlp team ls` as a table: each teammate, how it is one, and its copies here. */
function renderTeam (t: TeamListing): string {
  const lines: string[] = []
  lines.push(t.swarmKey
    ? 'swarm key: on (only peers with the same key can connect, and each of them is a teammate)'
    : 'swarm key: off (peers not listed here are strangers: they read only `mlp share`d data)')
  if (t.members.length === 0) {
    lines.push('no teammates yet: `mlp team add <peerId>`, or `mlp team create` and `mlp team join <line>` for a shared swarm key')
    return lines.join('\n')
  }
  lines.push(table(['PEER', 'HOW', 'STATE', 'COPIES HERE'], t.members.map((m) => [
    m.peerId,
    m.via.join(', '),
    m.connected ? 'connected' : 'not connected',
    `${formatBytes(m.replicaBytes)} of ${formatBytes(t.replicaQuota)}`
  ])))
  return lines.join('\n')
}

export default class TeamLs extends BaseCommand<typeof TeamLs> {
  static override summary = 'List teammates and how each is one: swarm key, added, or a trust role (run, results)'
  static override examples = ['<%= config.bin %> team ls', '<%= config.bin %> team ls --json']

  async run (): Promise<TeamListing> {
    const team = await this.call('team/ls', {})
    this.log(renderTeam(team))
    return team
  }
}
