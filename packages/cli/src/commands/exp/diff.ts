import { Args } from '@oclif/core'
import type { ValueDiff } from '@mlp/proto'
import { BaseCommand } from '../../base-command.js'
import { table } from '../../format.js'

export default class ExpDiff extends BaseCommand<typeof ExpDiff> {
  static override summary = 'Compare the params and metrics of two experiments, or of one and the workspace'
  static override examples = ['<%= config.bin %> exp diff lucky-otter', '<%= config.bin %> exp diff lucky-otter brisk-heron']
  static override args = {
    a: Args.string({ description: 'experiment (old values)', required: true }),
    b: Args.string({ description: 'experiment (new values; default: the workspace)' })
  }

  async run (): Promise<ValueDiff[]> {
    const rows = await this.call('exp/diff', { cwd: process.cwd(), a: this.args.a, ...(this.args.b != null ? { b: this.args.b } : {}) })
    this.log(rows.length === 0 ? 'no differences' : table(['FILE', 'KEY', 'OLD', 'NEW'], rows.map((r) => [r.file, r.key, JSON.stringify(r.old), JSON.stringify(r.new)])))
    return rows
  }
}
