import { Args } from '@oclif/core'
import type { TeamListing } from '@mlp/proto'
import { BaseCommand } from '../../base-command.js'

export default class TeamRm extends BaseCommand<typeof TeamRm> {
  static override summary = 'Stop treating a peer added with `mlp team add` as a teammate'
  static override description = 'From now on it reads only shared data and cannot push copies here, unless it is a teammate another way (same swarm key, or a trust role: see `mlp team ls`). Copies already kept for it stay pinned.'
  static override examples = ['<%= config.bin %> team rm 12D3KooWRm...']
  static override args = {
    peerId: Args.string({ description: 'peer id', required: true })
  }

  async run (): Promise<TeamListing> {
    const team = await this.call('team/rm', { peerId: this.args.peerId })
    const still = team.members.find((m) => m.peerId === this.args.peerId)
    this.log(still == null ? `no longer a teammate: ${this.args.peerId}` : `removed from the team list, but still a teammate through ${still.via.join(', ')}: ${this.args.peerId}`)
    return team
  }
}
