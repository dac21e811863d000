import { Args } from '@oclif/core'
import { BaseCommand } from '../../base-command.js'

export default class TrustAdd extends BaseCommand<typeof TrustAdd> {
  static override summary = 'Let a peer run stages on this machine'
  static override description = 'A stage is arbitrary code: only peers on this list may run stages here.'
  static override examples = ['<%= config.bin %> trust add 12D3KooWRm...']
  static override args = {
    peerId: Args.string({ description: 'peer id (see `mlp id` on that machine)', required: true })
  }

  async run (): Promise<string[]> {
    const list = await this.call('trust/add', { peerId: this.args.peerId })
    this.log(`trusted: ${this.args.peerId} (${list.length} trusted peer${list.length === 1 ? '' : 's'})`)
    return list
  }
}
