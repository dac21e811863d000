import { Args } from '@oclif/core'
import type { ValueDiff } from '@mlp/proto'
import { BaseCommand } from '../../base-command.js'
import { table } from '../../format.js'

export default class ParamsDiff extends BaseCommand<typeof ParamsDiff> {
  static override summary = 'Show params that differ from a git revision (default HEAD)'
  static override examples = ['<%= config.bin %> params diff', '<%= config.bin %> params diff HEAD~1 --json']
  static override args = {
    rev: Args.string({ description: 'git revision to compare with', default: 'HEAD' })
  }

  async run (): Promise<ValueDiff[]> {
    const diff = await this.call('params/diff', { cwd: process.cwd(), rev: this.args.rev })
    this.log(diff.length === 0 ? `params are the same as in ${this.args.rev}` : table(['FILE', 'PARAM', this.args.rev, 'WORKSPACE'], diff.map((d) => [d.file, d.key, JSON.stringify(d.old), JSON.stringify(d.new)])))
    return diff
  }
}
