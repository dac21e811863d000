import { Args, Flags } from '@oclif/core'
import type { CheckoutOut } from '@mlp/proto'
import { BaseCommand } from '../base-command.js'
import { failOnLocalEdits } from '../local-edits.js'

export default class Checkout extends BaseCommand<typeof Checkout> {
  static override summary = 'Rebuild workspace files from pointer files and mlp.lock'
  static override description = 'Files already right are left alone. A file whose content the store holds (a version mlp wrote or stored) is replaced, and files a directory no longer lists are removed. A file the store does not know is a local edit: kept and listed, and the command exits non-zero unless --force.'
  static override examples = ['<%= config.bin %> checkout', '<%= config.bin %> checkout data/raw --force', '<%= config.bin %> checkout train']
  static override flags = {
    force: Flags.boolean({ char: 'f', description: 'overwrite (and remove) local edits too', default: false })
  }

  static override args = {
    targets: Args.string({ description: 'tracked paths, .mlp files or stage names (default: all pointer files and mlp.lock outs)', multiple: true })
  }

  async run (): Promise<CheckoutOut[] | undefined> {
    const targets = this.args.targets ?? []
    const outs = await this.call('checkout', { cwd: process.cwd(), targets, force: this.flags.force }, (e) => `checking out ${e.detail.path}: ${e.detail.files} files`)
    for (const o of outs) {
      this.log(`${o.path}: ${o.written} written, ${o.unchanged} unchanged${o.removed > 0 ? `, ${o.removed} removed` : ''}${o.skipped.length > 0 ? `, ${o.skipped.length} kept` : ''}`)
      for (const s of o.skipped) this.log(`    kept (local edit; --force to overwrite): ${s}`)
    }
    if (failOnLocalEdits(this, outs, { checkout: outs })) return undefined
    return outs
  }
}
