import { Args } from '@oclif/core'
import type { JobInfo } from '@mlp/proto'
import { resolveJobId } from '@mlp/daemon/pure'
import { BaseCommand } from '../base-command.js'
import { formatDuration, table } from '../format.js'

export default class Jobs extends BaseCommand<typeof Jobs> {
  static override summary = 'Stage jobs this machine runs for peers, or asked peers to run'
  static override description = 'A job id may be shortened to any unique prefix of at least 4 characters, as git commit ids are.'
  static override examples = ['<%= config.bin %> jobs', '<%= config.bin %> jobs e5ad8e1d', '<%= config.bin %> jobs --json']
  static override args = {
    id: Args.string({ description: 'only this job (its id or a unique prefix)', required: false })
  }

  async run (): Promise<JobInfo[]> {
    let jobs = await this.call('jobs', {})
    if (this.args.id != null) {
      const id = resolveJobId(this.args.id.toLowerCase(), jobs.map((j) => j.id))
      jobs = jobs.filter((j) => j.id === id)
    }
    if (jobs.length === 0) this.log('no jobs')
    else {
      this.log(table(['JOB', 'STAGE', 'ROLE', 'PEER', 'STATE', 'GPUS', 'TIME'], jobs.map((j) => [
        j.id, j.stage, j.role === 'executor' ? 'runs here for' : 'runs on', j.peer, j.state, j.gpus.join(',') || '-',
        formatDuration((j.endedAt != null ? Date.parse(j.endedAt) : Date.now()) - Date.parse(j.startedAt))
      ])))
      if (this.args.id != null && jobs[0].message != null) this.log(jobs[0].message)
    }
    return jobs
  }
}
