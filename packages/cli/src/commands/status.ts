import { Args } from '@oclif/core'
import type { StatusResult } from '@mlp/proto'
import { BaseCommand } from '../base-command.js'

export default class Status extends BaseCommand<typeof Status> {
  static override summary = 'Show tracked data (pointer files and mlp.lock outs) that changed or is missing, and stages that are not up to date'
  static override examples = ['<%= config.bin %> status', '<%= config.bin %> status data/raw --json']
  static override args = {
    targets: Args.string({ description: 'tracked paths, .mlp files or stage names (default: all pointer files and mlp.lock outs)', multiple: true })
  }

  async run (): Promise<StatusResult> {
    const r = await this.call('status', { cwd: process.cwd(), targets: this.args.targets ?? [] })
    const changed = r.outs.filter((o) => o.state !== 'unchanged')
    for (const s of r.stages) this.log(`stage ${s.stage}: ${s.reasons.join(', ')}`)
    if (changed.length === 0 && r.stages.length === 0) this.log(r.outs.length === 0 ? 'nothing tracked yet: `mlp add <path>`' : 'data, pointers and pipeline are up to date')
    for (const o of changed) {
      this.log(`${o.state}: ${o.path}${o.stage != null ? ` (out of stage ${o.stage})` : ''}${o.state === 'missing' && !o.inStore ? ' (not in the local store either: `mlp pull`)' : ''}`)
      for (const p of o.changes?.added ?? []) this.log(`    added:    ${p}`)
      for (const p of o.changes?.modified ?? []) this.log(`    modified: ${p}`)
      for (const p of o.changes?.deleted ?? []) this.log(`    deleted:  ${p}`)
    }
    return r
  }
}
