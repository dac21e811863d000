import type { JobInfo } from '@mlp/proto'
import { BaseCommand } from '../base-command.js'
import { formatDuration, table } from '../format.js'

export default class Jobs extends BaseCommand<typeof Jobs> {
  static override summary = 'Stage jobs this machine runs for peers, or asked peers to run'
  static override examples = ['<%= config.bin %> jobs', '<%= config.bin %> jobs --json']

  async run (): Promise<JobInfo[]> {
    const jobs = await this.call('jobs', {})
    if (jobs.length === 0) this.log('no jobs')
    else {
      this.log(table(['JOB', 'STAGE', 'ROLE', 'PEER', 'STATE', 'GPUS', 'TIME'], jobs.map((j) => [
        j.id, j.stage, j.role === 'executor' ? 'runs here for' : 'runs on', j.peer, j.state, j.gpus.join(',') || '-',
        formatDuration((j.endedAt != null ? Date.parse(j.endedAt) : Date.now()) - Date.parse(j.startedAt))
      ])))
    }
    return jobs
  }
}
