import { Args } from '@oclif/core'
import type { SharedRoot } from '@mlp/proto'
import { BaseCommand } from '../base-command.js'
import { formatTransfer } from '../format.js'

export default class Share extends BaseCommand<typeof Share> {
  static override summary = 'Offer data to teammates: add paths if needed, pin, and serve them'
  static override description = 'Paths are added as with `mlp add`; content ids must already be in the local store. Shared data is pinned (kept by gc) and served to any peer that asks.'
  static override examples = ['<%= config.bin %> share data/raw', '<%= config.bin %> share bafyb4i...']
  static override strict = false
  static override args = {
    targets: Args.string({ description: 'paths or content ids', required: true })
  }

  async run (): Promise<SharedRoot[]> {
    const started = Date.now()
    const shared = await this.call('share', { cwd: process.cwd(), targets: this.argv.filter((a) => !a.startsWith('-')) }, (e) => formatTransfer(e.detail, started, `adding ${e.detail.path}`))
    for (const s of shared) this.log(`sharing ${s.path != null ? `${s.path}: ` : ''}${s.cid}`)
    return shared
  }
}
