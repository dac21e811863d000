import { BaseCommand } from '../../base-command.js'

export default class TrustLs extends BaseCommand<typeof TrustLs> {
  static override summary = 'List the peers allowed to run stages on this machine'
  static override examples = ['<%= config.bin %> trust ls']

  async run (): Promise<string[]> {
    const list = await this.call('trust/ls', {})
    this.log(list.length === 0 ? 'no trusted peers: nobody can run stages here (`mlp trust add <peerId>`)' : list.join('\n'))
    return list
  }
}
