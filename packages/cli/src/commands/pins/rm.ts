import { Args } from '@oclif/core'
import type { PinInfo } from '@mlp/proto'
import { BaseCommand } from '../../base-command.js'

export default class PinsRm extends BaseCommand<typeof PinsRm> {
  static override summary = 'Drop pins; the data goes at the next gc unless a project still references it'
  static override examples = ['<%= config.bin %> pins rm bafyb4i...']
  static override args = {
    cids: Args.string({ description: 'pinned content ids (see `mlp pins ls`)', required: true, multiple: true })
  }

  async run (): Promise<PinInfo[]> {
    const removed = await this.call('pins/rm', { cids: this.args.cids })
    for (const p of removed) this.log(`unpinned ${p.cid} (${p.reason})`)
    return removed
  }
}
