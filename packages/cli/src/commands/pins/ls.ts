import type { PinInfo } from '@mlp/proto'
import { BaseCommand } from '../../base-command.js'

export default class PinsLs extends BaseCommand<typeof PinsLs> {
  static override summary = 'List the pins: data gc keeps whatever the projects say (fetched, pushed, shared, replicas for peers)'
  static override examples = ['<%= config.bin %> pins ls', '<%= config.bin %> pins ls --json']

  async run (): Promise<PinInfo[]> {
    const pins = await this.call('pins/ls', {})
    this.log(pins.length === 0 ? 'no pins: gc keeps only what projects reference' : pins.map((p) => `${p.cid}  ${p.reason}  ${p.at}`).join('\n'))
    return pins
  }
}
