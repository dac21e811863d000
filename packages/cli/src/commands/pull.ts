import { Args } from '@oclif/core'
import type { PullResult } from '@mlp/proto'
import { BaseCommand } from '../base-command.js'
import { formatBytes, formatFetch } from '../format.js'
import { failOnLocalEdits } from '../local-edits.js'

export default class Pull extends BaseCommand<typeof Pull> {
  static override summary = "Fetch what the project's pointer files and mlp.lock reference from peers, and check it out"
  static override description = 'Checks out as `mlp checkout` does: versions the store knows are replaced, files a directory no longer lists are removed, local edits are kept and listed (exit non-zero; `mlp checkout --force` overwrites them).'
  static override examples = ['git pull && <%= config.bin %> pull', '<%= config.bin %> pull data/raw', '<%= config.bin %> pull train']
  static override args = {
    targets: Args.string({ description: 'tracked paths, .mlp files or stage names (default: all pointer files and mlp.lock outs)', multiple: true })
  }

  async run (): Promise<PullResult | undefined> {
    const started = Date.now()
    const r = await this.call('pull', { cwd: process.cwd(), targets: this.args.targets ?? [] }, (e) => (e.name === 'exchange:fetch' ? formatFetch(e.detail, started) : `checking out ${e.detail.path}`))
    const bytes = r.fetched.reduce((n, f) => n + f.bytes, 0)
    const removed = r.checkout.reduce((n, c) => n + c.removed, 0)
    this.log(`fetched ${formatBytes(bytes)}; ${r.checkout.reduce((n, c) => n + c.written, 0)} files written, ${r.checkout.reduce((n, c) => n + c.unchanged, 0)} unchanged${removed > 0 ? `, ${removed} removed` : ''}`)
    for (const c of r.checkout) for (const s of c.skipped) this.log(`    kept (local edit; \`mlp checkout --force\` to overwrite): ${s}`)
    if (failOnLocalEdits(this, r.checkout, r)) return undefined
    return r
  }
}
