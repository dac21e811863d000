import { Args } from '@oclif/core'
import type { ValueDiff } from '@mlp/proto'
import { BaseCommand } from '../../base-command.js'
import { table } from '../../format.js'

export default class MetricsDiff extends BaseCommand<typeof MetricsDiff> {
  static override summary = 'Show metrics that differ from a git revision (default HEAD)'
  static override examples = ['<%= config.bin %> metrics diff', '<%= config.bin %> metrics diff main --json']
  static override args = {
    rev: Args.string({ description: 'git revision to compare with', default: 'HEAD' })
  }

  async run (): Promise<ValueDiff[]> {
    const diff = await this.call('metrics/diff', { cwd: process.cwd(), rev: this.args.rev })
    this.log(diff.length === 0 ? `metrics are the same as in ${this.args.rev}` : table(['FILE', 'METRIC', this.args.rev, 'WORKSPACE', 'CHANGE'], diff.map((d) => [d.file, d.key, JSON.stringify(d.old), JSON.stringify(d.new), typeof d.old === 'number' && typeof d.new === 'number' ? String(+(d.new - d.old).toFixed(6)) : '-'])))
    return diff
  }
}
