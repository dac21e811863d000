import { Args } from '@oclif/core'
import type { SharedRoot } from '@mlp/proto'
import { BaseCommand } from '../base-command.js'

export default class Unshare extends BaseCommand<typeof Unshare> {
  static override summary = 'Withdraw data from strangers: they can no longer read it from this machine'
  static override description = 'Names a content id, or a path (or its .mlp pointer) shared before. The DHT stops being told this machine has it (records already out expire on their own). Teammates still read it; the data stays pinned.'
  static override examples = ['<%= config.bin %> unshare data/raw', '<%= config.bin %> unshare bafyb4i...']
  static override args = {
    targets: Args.string({ description: 'paths or content ids', required: true, multiple: true })
  }

  async run (): Promise<SharedRoot[]> {
    const removed = await this.call('unshare', { cwd: process.cwd(), targets: this.args.targets })
    for (const r of removed) this.log(`no longer shared: ${r.path != null ? `${r.path}: ` : ''}${r.cid}`)
    return removed
  }
}
