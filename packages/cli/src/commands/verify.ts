import { CorruptBlockError } from '@mlp/proto'
import type { VerifyResult } from '@mlp/proto'
import { BaseCommand } from '../base-command.js'
import { formatBytes } from '../format.js'

export default class Verify extends BaseCommand<typeof Verify> {
  static override summary = 'Rehash every stored block and check every tracked DAG is complete'
  static override examples = ['<%= config.bin %> verify']

  async run (): Promise<VerifyResult | undefined> {
    const r = await this.call('verify', {}, (e) => `verifying: ${e.detail.checked} blocks`)
    for (const cid of r.corrupt) this.log(`corrupt: ${cid}`)
    for (const cid of r.missing) this.log(`missing: ${cid}`)
    if (r.corrupt.length > 0 || r.missing.length > 0) {
      const err = new CorruptBlockError(`${r.corrupt.length} corrupt and ${r.missing.length} missing blocks (of ${r.checkedBlocks} checked): restore them with \`mlp pull\` or re-add the data`)
      // one JSON document: the report with the error inside it
      if (this.jsonEnabled()) process.stdout.write(JSON.stringify({ ...r, error: { name: err.name, message: err.message } }) + '\n')
      process.stderr.write(`Error: ${err.message}\n`)
      process.exitCode = 1
      return undefined
    }
    this.log(`ok: ${r.checkedBlocks} blocks (${formatBytes(r.checkedBytes)}) verified`)
    return r
  }
}
