import { Args } from '@oclif/core'
import type { ExpApplyResult } from '@mlp/proto'
import { BaseCommand } from '../../base-command.js'
import { printable } from '../../format.js'

export default class ExpApply extends BaseCommand<typeof ExpApply> {
  static override summary = "Put an experiment's code, params, lock and outputs into the workspace"
  static override description = 'Applies its code and params changes (refusing if uncommitted changes touch the same files), writes its mlp.lock and checks out its outputs, fetched from whichever peer holds them, so `mlp repro` has nothing to do.'
  static override examples = ['<%= config.bin %> exp apply lucky-otter', '<%= config.bin %> exp apply 12D3KooW.../lucky-otter']
  static override args = {
    name: Args.string({ description: 'experiment name (or <author peer id>/<name>)', required: true })
  }

  async run (): Promise<ExpApplyResult> {
    const r = await this.call('exp/apply', { cwd: process.cwd(), name: this.args.name })
    this.log(`applied experiment '${r.name}': ${r.patched ? 'code and params changes, ' : ''}${r.locks.join(', ')}${r.outs.length > 0 ? `, ${r.outs.length} output(s)` : ''}`)
    // a teammate wrote the patch: show every file it touched, escaped like any peer text
    for (const line of r.changes) this.log(`  ${printable(line)}`)
    return r
  }
}
