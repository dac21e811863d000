import { Args, Flags } from '@oclif/core'
import type { FetchedRoot } from '@mlp/proto'
import { BaseCommand } from '../base-command.js'
import { formatBytes, formatFetch } from '../format.js'

export default class Fetch extends BaseCommand<typeof Fetch> {
  static override summary = 'Get data from peers into the local store (and write it out with -o)'
  static override description = 'Every block is verified against its id; blocks already stored are not fetched again, so an interrupted fetch resumes. Fetched roots are pinned. With -o the data is written under a temporary name and renamed into place: if a block fails verification the command fails naming it, and nothing is left at the path.'
  static override examples = ['<%= config.bin %> fetch bafyb4i... -o data/raw', '<%= config.bin %> fetch data/raw.mlp']
  static override flags = {
    out: Flags.string({ char: 'o', description: 'write the fetched file or directory to this new path' })
  }

  static override args = {
    targets: Args.string({ description: 'content ids or .mlp pointer files', required: true, multiple: true })
  }

  async run (): Promise<FetchedRoot[]> {
    const started = Date.now()
    const targets = this.args.targets
    const fetched = await this.call('fetch', { cwd: process.cwd(), targets, out: this.flags.out }, (e) => formatFetch(e.detail, started))
    for (const f of fetched) {
      const peers = Object.entries(f.fromPeers).map(([p, s]) => `${p.slice(-8)}: ${s.blocks}`).join(', ')
      this.log(`${f.root}: ${f.blocks} blocks (${formatBytes(f.bytes)}) fetched${peers === '' ? '' : ` [${peers}]`}, ${f.alreadyHad} already here${f.out != null ? ` -> ${f.out}` : ''}`)
    }
    return fetched
  }
}
