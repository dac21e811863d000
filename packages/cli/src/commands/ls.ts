import { Args } from '@oclif/core'
import type { LsEntry } from '@mlp/proto'
import { BaseCommand } from '../base-command.js'
import { table } from '../format.js'

export default class Ls extends BaseCommand<typeof Ls> {
  static override summary = 'List a directory by its content id: names, sizes, child ids'
  static override examples = ['<%= config.bin %> ls bafyb4i...', '<%= config.bin %> ls bafyb4i... --json']
  static override args = {
    cid: Args.string({ description: 'content id of a directory', required: true })
  }

  async run (): Promise<LsEntry[]> {
    const entries = await this.call('ls', { cid: this.args.cid })
    this.log(table(['KIND', 'SIZE', 'CID', 'NAME'], entries.map((e) => [e.kind, e.kind === 'dir' ? '-' : String(e.size), e.cid, e.name + (e.kind === 'dir' ? '/' : '')])))
    return entries
  }
}
