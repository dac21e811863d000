import { Args, Flags } from '@oclif/core'
import type { TrustEntry, TrustRole } from '@mlp/proto'
import { BaseCommand } from '../../base-command.js'

export default class TrustAdd extends BaseCommand<typeof TrustAdd> {
  static override summary = 'Grant a peer a role: --run (its stages run here) and/or --results (send stages there, believe its results)'
  static override description = 'Running code needs both sides: `--run` on the executor for the requester, `--results` on the requester for the executor. A swarm key grants neither.'
  static override examples = ['<%= config.bin %> trust add 12D3KooWRm... --run', '<%= config.bin %> trust add 12D3KooWRm... --results']
  static override args = {
    peerId: Args.string({ description: 'peer id (see `mlp id` on that machine)', required: true })
  }

  static override flags = {
    run: Flags.boolean({ description: "this peer's stages may run on this machine (sandboxed)", default: false }),
    results: Flags.boolean({ description: "send this machine's stages to this peer and believe its signed results and run-cache entries", default: false })
  }

  async run (): Promise<TrustEntry[]> {
    const roles: TrustRole[] = [...(this.flags.run ? ['run' as const] : []), ...(this.flags.results ? ['results' as const] : [])]
    if (roles.length === 0) this.error('say what the peer may do: --run (its stages may run here) and/or --results (send stages there and believe its signed results)')
    const list = await this.call('trust/add', { peerId: this.args.peerId, roles })
    const held = list.find((e) => e.peerId === this.args.peerId)?.roles ?? roles
    this.log(`trusted: ${this.args.peerId} (${held.join(', ')})`)
    return list
  }
}
