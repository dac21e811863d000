import { Args } from '@oclif/core'
import type { PullResult } from '@mlp/proto'
import { BaseCommand } from '../base-command.js'
import { formatBytes, formatFetch } from '../format.js'

export default class Pull extends BaseCommand<typeof Pull> {
  static override summary = "Fetch everything the project's pointer files reference from peers, and check it out"
  static override examples = ['git pull && <%= config.bin %> pull', '<%= config.bin %> pull data/raw']
  static override strict = false
  static override args = {
    targets: Args.string({ description: 'tracked paths or .mlp files (default: all in the project)' })
  }

  async run (): Promise<PullResult> {
    const started = Date.now()
    const r = await this.call('pull', { cwd: process.cwd(), targets: this.argv.filter((a) => !a.startsWith('-')) }, (e) => (e.name === 'exchange:fetch' ? formatFetch(e.detail, started) : `checking out ${e.detail.path}`))
    const bytes = r.fetched.reduce((n, f) => n + f.bytes, 0)
    this.log(`fetched ${formatBytes(bytes)}; ${r.checkout.reduce((n, c) => n + c.written, 0)} files written, ${r.checkout.reduce((n, c) => n + c.unchanged, 0)} unchanged`)
    for (const c of r.checkout) for (const s of c.skipped) this.log(`    skipped (differs; \`mlp checkout --force\` to overwrite): ${s}`)
    return r
  }
}
