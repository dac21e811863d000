import { Args } from '@oclif/core'
import type { JobInfo } from '@mlp/proto'
import { BaseCommand } from '../base-command.js'

export default class Cancel extends BaseCommand<typeof Cancel> {
  static override summary = 'Stop a job, here or on the peer running it (its whole process group)'
  static override examples = ['<%= config.bin %> cancel 3f2a1b7c']
  static override args = {
    id: Args.string({ description: 'job id, or a unique prefix of it (see `mlp jobs`)', required: true })
  }

  async run (): Promise<JobInfo> {
    const job = await this.call('cancel', { id: this.args.id })
    this.log(`job ${job.id} (${job.stage}): ${job.state}`)
    return job
  }
}
