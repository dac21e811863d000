import { Args, Flags } from '@oclif/core'
import type { DiffEntry, DiffResult } from '@mlp/proto'
import { BaseCommand } from '../base-command.js'
import { formatBytes } from '../format.js'

/** A path from a commit, shown on a terminal: control characters (escape sequences) as `?`. */
const shown = (p: string): string => p.replace(/\p{Cc}/gu, '?')

function line (kind: string, e: DiffEntry): string {
  if (kind === 'renamed') return `renamed:  ${shown(e.oldPath ?? '')} -> ${shown(e.path)}`
  if (kind === 'modified') return `modified: ${shown(e.path)} (${formatBytes(e.old?.size ?? 0)} -> ${formatBytes(e.new?.size ?? 0)})`
  return `${`${kind}:`.padEnd(10)}${shown(e.path)} (${formatBytes((e.new ?? e.old)?.size ?? 0)})`
}

export default class Diff extends BaseCommand<typeof Diff> {
  static override summary = 'Show tracked data that changed between two git revisions, or a revision and the workspace'
  static override description = 'Files of pointer-file and mlp.lock outs (and files inside tracked directories) that were added, deleted, modified or renamed (same content id, new path), as `dvc diff` reports them. Default: HEAD against the workspace. Data a revision records but this machine lacks is listed from teammates (directory blocks and file root nodes only, never file contents); with no teammate holding it, the command fails naming the revision and how to fetch it.'
  static override examples = ['<%= config.bin %> diff', '<%= config.bin %> diff HEAD~1 HEAD --json', '<%= config.bin %> diff main --targets data/raw']
  static override args = {
    a: Args.string({ description: 'old git revision (default HEAD)' }),
    b: Args.string({ description: 'new git revision (default: the workspace)' })
  }

  static override flags = {
    targets: Flags.string({ description: 'only this tracked path, or a path inside a tracked directory (repeatable)', multiple: true, multipleNonGreedy: true })
  }

  async run (): Promise<DiffResult> {
    const r = await this.call('diff', { cwd: process.cwd(), a: this.args.a, b: this.args.b, targets: this.flags.targets })
    const s = r.summary
    for (const kind of ['added', 'deleted', 'modified', 'renamed'] as const) for (const e of r[kind]) this.log(line(kind, e))
    const side = (x: DiffResult['a']): string => x.commit == null ? x.rev : `${x.rev} (${x.commit.slice(0, 12)})`
    this.log(`${side(r.a)} -> ${side(r.b)}: ${s.added} added (${formatBytes(s.bytes.added)}), ${s.deleted} deleted (${formatBytes(s.bytes.deleted)}), ${s.modified} modified (${formatBytes(s.bytes.modifiedOld)} -> ${formatBytes(s.bytes.modifiedNew)}), ${s.renamed} renamed${r.fetchedBlocks > 0 ? `; ${r.fetchedBlocks} listing blocks from peers` : ''}`)
    return r
  }
}
