import type { IdResult } from '@mlp/proto'
import { BaseCommand } from '../base-command.js'

export default class Id extends BaseCommand<typeof Id> {
  static override summary = "Show this daemon's peer id and addresses"
  static override description = 'Give a teammate one of these addresses for `mlp peers add`.'
  static override examples = ['<%= config.bin %> id', '<%= config.bin %> id --json']

  async run (): Promise<IdResult> {
    const id = await this.call('id', {})
    this.log(id.peerId)
    for (const a of id.addrs) this.log(`  ${a}`)
    return id
  }
}
