import { Flags } from '@oclif/core'
import type { InstalledHook } from '@mlp/proto'
import { BaseCommand } from '../base-command.js'

export default class Install extends BaseCommand<typeof Install> {
  static override summary = 'Install git hooks: checkout after git checkout, merge and pull; push before git push'
  static override description = 'Writes post-checkout and post-merge hooks that run `mlp checkout`, and a pre-push hook that runs `mlp push`, as `dvc install` does. Running it again changes nothing. A hook mlp did not write is refused unless --force, which moves it to <name>.pre-mlp.'
  static override examples = ['<%= config.bin %> install', '<%= config.bin %> install --force']
  static override flags = {
    force: Flags.boolean({ char: 'f', description: 'move hooks mlp did not write aside (to <name>.pre-mlp)', default: false })
  }

  async run (): Promise<InstalledHook[]> {
    const hooks = await this.call('install', { cwd: process.cwd(), force: this.flags.force })
    for (const h of hooks) this.log(`${h.state}: ${h.path}${h.backup != null ? ` (yours is now ${h.backup})` : ''}`)
    return hooks
  }
}
