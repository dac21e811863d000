import { Args, Flags } from '@oclif/core'
import type { TrustEntry, TrustRole } from '@mlp/proto'
import { BaseCommand } from '../../base-command.js'

export default class TrustRm extends BaseCommand<typeof TrustRm> {
  static override summary = "Take a peer's roles away (all of them, or only --run / --results)"
  static override description = 'Taking --run ends that peer\'s exec streams and running jobs here at once.'
  static override examples = ['<%= config.bin %> trust rm 12D3KooWRm...', '<%= config.bin %> trust rm 12D3KooWRm... --run']
  static override args = {
    peerId: Args.string({ description: 'peer id (see `mlp id` on that machine)', required: true })
  }

  static override flags = {
    run: Flags.boolean({ description: 'take only the --run role', default: false }),
    results: Flags.boolean({ description: 'take only the --results role', default: false })
  }

  async run (): Promise<TrustEntry[]> {
    const roles: TrustRole[] = [...(this.flags.run ? ['run' as const] : []), ...(this.flags.results ? ['results' as const] : [])]
    const list = await this.call('trust/rm', { peerId: this.args.peerId, ...(roles.length > 0 ? { roles } : {}) })
    const left = list.find((e) => e.peerId === this.args.peerId)?.roles ?? []
    this.log(`${this.args.peerId}: ${left.length === 0 ? 'no roles left' : `still trusted with ${left.join(', ')}`}`)
    return list
  }
}
