import { Args } from '@oclif/core'
import type { ValueDiff } from '@mlp/proto'
import { readParamsDiff } from '@mlp/daemon/pure'
import { BaseCommand } from '../../base-command.js'
import { table } from '../../format.js'

export default class ParamsDiff extends BaseCommand<typeof ParamsDiff> {
  static override summary = 'Show params that differ from a git revision (default HEAD)'
  static override description = 'Reads the params files and git: no daemon need run.'
  static override examples = ['<%= config.bin %> params diff', '<%= config.bin %> params diff HEAD~1 --json']
  static override args = {
    rev: Args.string({ description: 'git revision to compare with', default: 'HEAD' })
  }

  async run (): Promise<ValueDiff[]> {
    const diff = await readParamsDiff(process.cwd(), this.args.rev)
    this.log(diff.length === 0 ? `params are the same as in ${this.args.rev}` : table(['FILE', 'PARAM', this.args.rev, 'WORKSPACE'], diff.map((d) => [d.file, d.key, JSON.stringify(d.old), JSON.stringify(d.new)])))
    return diff
  }
}
