import type { MetricValue } from '@mlp/proto'
import { readMetrics } from '@mlp/daemon/pure'
import { BaseCommand } from '../../base-command.js'
import { table } from '../../format.js'

export default class MetricsShow extends BaseCommand<typeof MetricsShow> {
  static override summary = "Show the metrics files' values in the workspace"
  static override description = 'Reads the metrics files in the workspace: no daemon need run.'
  static override examples = ['<%= config.bin %> metrics show', '<%= config.bin %> metrics show --json']

  async run (): Promise<MetricValue[]> {
    const values = readMetrics(process.cwd())
    this.log(values.length === 0 ? 'no metrics yet: declare them with `-m` in `mlp stage add` and run `mlp repro`' : table(['FILE', 'METRIC', 'VALUE'], values.map((v) => [v.file, v.key, JSON.stringify(v.value)])))
    return values
  }
}
