import type { GcResult } from '@mlp/proto'
import { BaseCommand } from '../base-command.js'
import { formatBytes } from '../format.js'

export default class Gc extends BaseCommand<typeof Gc> {
  static override summary = 'Remove blocks no pointer file or pin references'
  static override description = 'Roots are the pointer files of every project registered with this daemon (by mlp init, add or checkout) and explicit pins. Whatever they reach is kept.'
  static override examples = ['<%= config.bin %> gc']

  async run (): Promise<GcResult> {
    const r = await this.call('gc', {})
    this.log(`removed ${r.removedBlocks} blocks (${formatBytes(r.removedBytes)}); kept ${r.reachableBlocks} reachable from ${r.roots} roots; ${formatBytes(r.reclaimedBytes)} returned to disk`)
    return r
  }
}
