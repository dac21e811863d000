import { Args } from '@oclif/core'
import type { StatusResult } from '@mlp/proto'
import { BaseCommand } from '../base-command.js'
import { statusLines } from '../status-lines.js'

// bin/run.js answers the plainest `mlp status` command lines without oclif
// (src/fast-status.ts); both print through statusLines
export default class Status extends BaseCommand<typeof Status> {
  static override summary = 'Show tracked data (pointer files and mlp.lock outs) that changed or is missing, and stages that are not up to date'
  static override examples = ['<%= config.bin %> status', '<%= config.bin %> status data/raw --json']
  static override args = {
    targets: Args.string({ description: 'tracked paths, .mlp files or stage names (default: all pointer files and mlp.lock outs)', multiple: true })
  }

  async run (): Promise<StatusResult> {
    const r = await this.call('status', { cwd: process.cwd(), targets: this.args.targets ?? [] })
    for (const line of statusLines(r)) this.log(line)
    return r
  }
}
