import { Args } from '@oclif/core'
import type { RemovedOut } from '@mlp/proto'
import { BaseCommand } from '../base-command.js'

export default class Remove extends BaseCommand<typeof Remove> {
  static override summary = 'Stop tracking paths: remove their .mlp pointer files and .gitignore entries'
  static override description = 'The workspace data is kept, and so are its blocks in the store until `mlp gc` finds nothing else references them. Commit the removed pointer file to git.'
  static override examples = ['<%= config.bin %> remove data/raw', '<%= config.bin %> remove data/raw.mlp']
  static override args = {
    targets: Args.string({ description: 'tracked paths or their .mlp files', required: true, multiple: true })
  }

  async run (): Promise<RemovedOut[]> {
    const removed = await this.call('remove', { cwd: process.cwd(), targets: this.args.targets })
    for (const r of removed) this.log(`stopped tracking ${r.path}: removed ${r.pointer} (data kept; its blocks go at the next gc)`)
    return removed
  }
}
