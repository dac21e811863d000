import { Args, Flags } from '@oclif/core'
import { BaseCommand } from '../base-command.js'

export default class Logs extends BaseCommand<typeof Logs> {
  static override summary = "Show a job's output"
  static override examples = ['<%= config.bin %> logs 3f2a1b7c --follow']
  static override flags = {
    follow: Flags.boolean({ char: 'f', description: 'keep printing until the job ends', default: false })
  }

  static override args = {
    id: Args.string({ description: 'job id, or a unique prefix of it (see `mlp jobs`)', required: true })
  }

  async run (): Promise<{ id: string, state: string }> {
    return await this.call('logs', { id: this.args.id, follow: this.flags.follow }, undefined, (e) => {
      if (!this.jsonEnabled()) (e.detail.stream === 'stderr' ? process.stderr : process.stdout).write(`${e.detail.line}\n`)
    })
  }
}
