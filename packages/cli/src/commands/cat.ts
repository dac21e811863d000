import { Args } from '@oclif/core'
import { BaseCommand } from '../base-command.js'

export default class Cat extends BaseCommand<typeof Cat> {
  static override summary = 'Write the content of a file by its content id to stdout'
  static override description = 'Every block is verified against its id before a byte of it is written. A block that fails stops the command with an error naming it (exit 1): what was written before it is a correct prefix, never wrong bytes. The block is quarantined; `mlp verify --repair` fetches a good copy from peers.'
  static override examples = ['<%= config.bin %> cat bafyb4i... > copy.csv']
  static override enableJsonFlag = false
  static override args = {
    cid: Args.string({ description: 'content id of a file', required: true })
  }

  async run (): Promise<void> {
    await this.client.bytes('cat', { cid: this.args.cid }, async (chunk) => {
      if (!process.stdout.write(chunk)) await new Promise((resolve) => process.stdout.once('drain', resolve))
    })
  }
}
