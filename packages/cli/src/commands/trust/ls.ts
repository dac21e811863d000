import type { TrustEntry } from '@mlp/proto'
import { BaseCommand } from '../../base-command.js'

export default class TrustLs extends BaseCommand<typeof TrustLs> {
  static override summary = 'List the peers this machine trusts, with their roles (run, results)'
  static override examples = ['<%= config.bin %> trust ls']

  async run (): Promise<TrustEntry[]> {
    const list = await this.call('trust/ls', {})
    this.log(list.length === 0 ? 'no trusted peers: nobody runs stages here and no stage is sent anywhere (`mlp trust add <peerId> --run|--results`)' : list.map((e) => `${e.peerId}  ${e.roles.join(',')}`).join('\n'))
    return list
  }
}
