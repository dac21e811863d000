import { Args } from '@oclif/core'
import type { AddedOut } from '@mlp/proto'
import { BaseCommand } from '../base-command.js'
import { formatBytes, formatTransfer } from '../format.js'

export default class Add extends BaseCommand<typeof Add> {
  static override summary = 'Track files or directories: store their content and write <path>.mlp pointer files'
  static override description = 'Each path is chunked and hashed into the local store; <path>.mlp (commit it to git) records its content id, and the path is added to .gitignore. Unchanged files are not read again. A name that starts with - goes after --, which ends the flags: `mlp add -- -x.bin`.'
  static override examples = ['<%= config.bin %> add data/raw', '<%= config.bin %> add model.pt metrics/ --json']
  static override args = {
    paths: Args.string({ description: 'files or directories to track', required: true, multiple: true })
  }

  async run (): Promise<AddedOut[]> {
    const started = Date.now()
    const added = await this.call('add', { cwd: process.cwd(), paths: this.args.paths }, (e) => formatTransfer(e.detail, started, `adding ${e.detail.path}`))
    for (const a of added) this.log(`added ${a.path}: ${a.cid} (${formatBytes(a.size)}, ${a.nfiles} file${a.nfiles === 1 ? '' : 's'}) -> ${a.pointer}`)
    return added
  }
}
