import { Args } from '@oclif/core'
import type { TeamListing } from '@mlp/proto'
import { BaseCommand } from '../../base-command.js'

export default class TeamAdd extends BaseCommand<typeof TeamAdd> {
  static override summary = 'Make a peer a teammate: it reads any data this machine holds and may `push --to` it'
  static override description = 'Strangers read only what `mlp share` published. A teammate reads everything this daemon holds and may ask it to keep copies (`mlp push --to`), within the replicaQuota of config.yaml. Takes effect at once.'
  static override examples = ['<%= config.bin %> team add 12D3KooWRm...']
  static override args = {
    peerId: Args.string({ description: 'peer id (see `mlp id` on that machine)', required: true })
  }

  async run (): Promise<TeamListing> {
    const team = await this.call('team/add', { peerId: this.args.peerId })
    this.log(`teammate: ${this.args.peerId} (${team.members.length} teammate${team.members.length === 1 ? '' : 's'}; \`mlp team ls\`)`)
    return team
  }
}
