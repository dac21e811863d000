import { Args } from '@oclif/core'
import type { ExpRow } from '@mlp/proto'
import { BaseCommand } from '../../base-command.js'

export default class ExpRemove extends BaseCommand<typeof ExpRemove> {
  static override summary = 'Remove one of your experiments, here and on your teammates\' machines'
  static override description = 'Records a signed removal that spreads to teammates as the experiment did. Only its author can remove an experiment.'
  static override examples = ['<%= config.bin %> exp remove lucky-otter']
  static override args = {
    name: Args.string({ description: 'experiment name', required: true })
  }

  async run (): Promise<ExpRow> {
    const r = await this.call('exp/remove', { cwd: process.cwd(), name: this.args.name })
    this.log(`removed experiment '${r.name}'`)
    return r
  }
}
