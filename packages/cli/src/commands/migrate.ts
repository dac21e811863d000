import type { MigrateResult } from '@mlp/proto'
import { BaseCommand } from '../base-command.js'

export default class Migrate extends BaseCommand<typeof Migrate> {
  static override summary = 'Bring a DVC project over: its .dvc files, dvc.lock and DVC cache become .mlp pointer files and mlp.lock entries'
  static override description = 'Run at the root of a DVC repository (made an mlp project first if it is not one). Data comes from the workspace, else from the local DVC cache (.dvc/cache), each file checked against the md5 DVC recorded. Stages whose dvc.lock entry is up to date get an mlp.lock entry, so `mlp repro` reruns nothing. The DVC files are left in place; running it again changes nothing. What could not be imported is listed with the reason.'
  static override examples = ['<%= config.bin %> migrate', '<%= config.bin %> migrate --json']

  async run (): Promise<MigrateResult> {
    const r = await this.call('migrate', { cwd: process.cwd() })
    for (const o of r.outs) if (o.state === 'imported') this.log(`imported ${o.path} from the DVC ${o.from === 'cache' ? 'cache' : 'workspace'} (${o.source})`)
    for (const s of r.stages) if (s.state === 'written') this.log(`recorded stage ${s.stage} in mlp.lock (from dvc.lock)`)
    for (const p of r.problems) this.log(`not imported: ${p.path} (${p.source}): ${p.reason}`)
    if (!r.changed) this.log('already migrated: nothing changed')
    else this.log('next: commit the .mlp pointer files, mlp.lock and .gitignore changes')
    return r
  }
}
