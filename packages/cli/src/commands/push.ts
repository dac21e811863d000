import { Args, Flags } from '@oclif/core'
import type { PushResult } from '@mlp/proto'
import { BaseCommand } from '../base-command.js'

export default class Push extends BaseCommand<typeof Push> {
  static override summary = "Offer the project's data to peers; with --to, have a teammate keep a copy"
  static override description = 'Checks that every block the pointer files and mlp.lock outs reference is here and pins it. With --to, asks that peer to fetch and pin everything, and waits until it holds it all: do this before switching your machine off.'
  static override examples = ['<%= config.bin %> push', '<%= config.bin %> push data/raw --to 12D3KooW...', '<%= config.bin %> push train --to 12D3KooW...']
  static override flags = {
    to: Flags.string({ description: 'peer id that should keep a copy' })
  }

  static override args = {
    targets: Args.string({ description: 'tracked paths, .mlp files or stage names (default: all pointer files and mlp.lock outs)', multiple: true })
  }

  async run (): Promise<PushResult> {
    const targets = this.args.targets ?? []
    const r = await this.call('push', { cwd: process.cwd(), targets, to: this.flags.to })
    this.log(r.to == null ? `${r.roots.length} root(s) pinned and served to peers` : `${r.to} now holds a copy of ${r.roots.length} root(s)`)
    return r
  }
}
