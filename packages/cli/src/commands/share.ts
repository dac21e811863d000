import { Args, Flags } from '@oclif/core'
import type { SharedRoot } from '@mlp/proto'
import { BaseCommand } from '../base-command.js'
import { formatTransfer } from '../format.js'

export default class Share extends BaseCommand<typeof Share> {
  static override summary = 'Publish data to every peer, strangers too: add paths if needed, pin, and serve them'
  static override description = 'Teammates read any data this machine holds; strangers (no shared swarm key, not added with `mlp team add`) read only shared roots and what they contain. Paths are added as with `mlp add`; content ids must already be in the local store. Shared data is pinned (kept by gc) and announced in the DHT. `mlp unshare` withdraws it; --list shows what is shared.'
  static override examples = ['<%= config.bin %> share data/raw', '<%= config.bin %> share bafyb4i...', '<%= config.bin %> share --list']
  static override args = {
    targets: Args.string({ description: 'paths or content ids', multiple: true })
  }

  static override flags = {
    list: Flags.boolean({ description: 'list the shared roots instead', default: false })
  }

  async run (): Promise<SharedRoot[]> {
    const targets = this.args.targets ?? []
    if (this.flags.list) {
      if (targets.length > 0) this.error('--list takes no paths or content ids')
      const shared = await this.call('share/ls', {})
      this.log(shared.length === 0 ? 'nothing shared: strangers read nothing here (`mlp share <path|cid>`)' : shared.map((s) => `${s.cid}${s.path != null ? `  ${s.path}` : ''}`).join('\n'))
      return shared
    }
    if (targets.length === 0) this.error('name paths or content ids to share (`mlp share --list` shows what is shared)')
    const started = Date.now()
    const shared = await this.call('share', { cwd: process.cwd(), targets }, (e) => formatTransfer(e.detail, started, `adding ${e.detail.path}`))
    for (const s of shared) this.log(`sharing ${s.path != null ? `${s.path}: ` : ''}${s.cid}`)
    return shared
  }
}
