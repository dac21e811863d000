import { Flags } from '@oclif/core'
import { CorruptBlockError } from '@mlp/proto'
import type { VerifyResult } from '@mlp/proto'
import { BaseCommand } from '../base-command.js'
import { formatBytes } from '../format.js'

export default class Verify extends BaseCommand<typeof Verify> {
  static override summary = 'Rehash every stored block and check every tracked DAG is complete'
  static override description = 'A corrupt block is quarantined: it counts as missing, so `mlp verify --repair` (or a fetch or pull) stores a good copy from peers.'
  static override examples = ['<%= config.bin %> verify', '<%= config.bin %> verify --repair']
  static override flags = {
    repair: Flags.boolean({ description: 'fetch every corrupt or missing block the tracked data needs from peers' })
  }

  async run (): Promise<VerifyResult | undefined> {
    const repair = this.flags.repair
    const r = await this.call('verify', { repair }, (e) => e.detail.repairing != null ? `repairing: ${e.detail.repairing}` : `verifying: ${e.detail.checked} blocks`)
    for (const cid of r.corrupt) this.log(`corrupt: ${cid}`)
    for (const cid of r.missing) this.log(`missing: ${cid}`)
    for (const cid of r.repaired ?? []) this.log(`repaired: ${cid}`)
    for (const u of r.unrepaired ?? []) this.log(`not repaired: ${u.cid} (of ${u.root}): ${u.reason}`)
    const damaged = r.corrupt.length + r.missing.length
    const failed = repair ? (r.unrepaired ?? []).length : damaged
    if (failed > 0) {
      const first = r.unrepaired?.[0]
      const message = repair && first != null
        ? `${failed} of ${damaged} corrupt or missing blocks could not be repaired, e.g. ${first.cid}: ${first.reason}; connect a peer that holds them (\`mlp peers add\`) and run \`mlp verify --repair\` again, or re-add the data`
        : `${r.corrupt.length} corrupt and ${r.missing.length} missing blocks (of ${r.checkedBlocks} checked): run \`mlp verify --repair\` to fetch good copies from peers, or re-add the data`
      const err = new CorruptBlockError(message)
      // one JSON document: the report with the error inside it
      if (this.jsonEnabled()) process.stdout.write(JSON.stringify({ ...r, error: { name: err.name, message: err.message } }) + '\n')
      process.stderr.write(`Error: ${err.message}\n`)
      process.exitCode = 1
      return undefined
    }
    if (repair && damaged > 0) this.log(`repaired: ${(r.repaired ?? []).length} corrupt or missing blocks fetched again from peers`)
    this.log(`ok: ${r.checkedBlocks} blocks (${formatBytes(r.checkedBytes)}) verified`)
    return r
  }
}
