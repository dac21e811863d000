import { Flags } from '@oclif/core'
import type { ExpRow } from '@mlp/proto'
import { BaseCommand } from '../../base-command.js'
import { table } from '../../format.js'

export default class ExpShow extends BaseCommand<typeof ExpShow> {
  static override summary = "List this project's experiments, from this machine and every teammate"
  static override description = 'Experiments are matched by the project id in .mlp/config.yaml. A teammate\'s experiments are listed while its machine is off: each daemon keeps the signed records its teammates sent.'
  static override examples = ['<%= config.bin %> exp show', '<%= config.bin %> exp show --sort-by acc --sort-order desc', '<%= config.bin %> exp show --json']
  static override flags = {
    'sort-by': Flags.string({ description: 'metric to sort by (`key` or `file:key`)' }),
    'sort-order': Flags.string({ description: 'sort order with --sort-by', options: ['asc', 'desc'], default: 'asc' })
  }

  async run (): Promise<ExpRow[]> {
    const rows = await this.call('exp/show', { cwd: process.cwd(), ...(this.flags['sort-by'] != null ? { sortBy: this.flags['sort-by'], sortOrder: this.flags['sort-order'] as 'asc' | 'desc' } : {}) })
    // oclif prints the rows themselves under --json: the table would be built for nothing
    if (this.jsonEnabled()) return rows
    const short = (id: string): string => id.slice(-8)
    this.log(rows.length === 0
      ? 'no experiments yet: `mlp exp run -S key=value` runs one'
      : table(['NAME', 'BASE', 'BY', 'WHERE', 'WHEN', 'STATE', 'PARAMS', 'METRICS'], rows.map((r) => [
        r.name,
        r.base.slice(0, 7),
        r.mine ? 'me' : short(r.by),
        r.where.map((w) => w === r.by ? (r.mine ? 'here' : short(w)) : short(w)).join(',') || '-',
        r.startedAt.replace('T', ' ').slice(0, 16),
        r.state,
        r.params.map((p) => `${p.key}=${JSON.stringify(p.new)}`).join(' ') || '-',
        r.metrics.map((m) => `${m.key}=${JSON.stringify(m.value)}`).join(' ') || '-'
      ])))
    return rows
  }
}
