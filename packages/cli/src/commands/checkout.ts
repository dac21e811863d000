import { Args, Flags } from '@oclif/core'
import type { CheckoutOut } from '@mlp/proto'
import { BaseCommand } from '../base-command.js'

export default class Checkout extends BaseCommand<typeof Checkout> {
  static override summary = 'Rebuild workspace files from pointer files'
  static override description = 'Files already matching their pointer are left alone; files that differ are skipped and listed unless --force.'
  static override examples = ['<%= config.bin %> checkout', '<%= config.bin %> checkout data/raw --force']
  static override strict = false
  static override flags = {
    force: Flags.boolean({ char: 'f', description: 'overwrite workspace files that differ from their pointer', default: false })
  }

  static override args = {
    targets: Args.string({ description: 'tracked paths or .mlp files (default: all in the project)' })
  }

  async run (): Promise<CheckoutOut[]> {
    const targets = this.argv.filter((a) => !a.startsWith('-'))
    const outs = await this.call('checkout', { cwd: process.cwd(), targets, force: this.flags.force }, (e) => `checking out ${e.detail.path}: ${e.detail.files} files`)
    for (const o of outs) {
      this.log(`${o.path}: ${o.written} written, ${o.unchanged} unchanged${o.skipped.length > 0 ? `, ${o.skipped.length} skipped` : ''}`)
      for (const s of o.skipped) this.log(`    skipped (differs; --force to overwrite): ${s}`)
    }
    return outs
  }
}
