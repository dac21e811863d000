import { Flags } from '@oclif/core'
import type { GcResult } from '@mlp/proto'
import { BaseCommand } from '../base-command.js'
import { formatBytes } from '../format.js'

export default class Gc extends BaseCommand<typeof Gc> {
  static override summary = 'Remove blocks no tracked output, branch, tag or pin references'
  static override description = 'Roots are the tracked outputs (pointer files and mlp.lock stage outs) of every project registered with this daemon (by mlp init, add, checkout or repro), in its workspace and, by default, on every local branch and tag; plus pins (`mlp pins ls`), run-cache results stored here within `gcKeepRunCacheDays` (config.yaml, default 7), and whatever an add, fetch or repro in progress has written. A registered project whose folder is missing keeps the roots gc last recorded for it until `--forget <path>`. A pack file less than half live (config.yaml `gcCompactBelow`, default 0.5) is rewritten so its dead bytes go back to the disk; a pack mostly live keeps them (the summary says how many bytes), since rewriting it would copy more than it frees.'
  static override examples = ['<%= config.bin %> gc --dry', '<%= config.bin %> gc', '<%= config.bin %> gc --workspace', '<%= config.bin %> gc --forget /mnt/old-disk/project']

  static override flags = {
    dry: Flags.boolean({ description: 'list what would be removed and its bytes; change nothing', default: false }),
    workspace: Flags.boolean({ description: 'keep only what the workspaces reference (not other branches and tags)', default: false, exclusive: ['all-commits'] }),
    'all-commits': Flags.boolean({ description: 'keep what any commit references, not only branch and tag tips', default: false, exclusive: ['workspace'] }),
    forget: Flags.string({ description: 'a registered project whose folder is gone: stop keeping its data (repeatable)', multiple: true })
  }

  async run (): Promise<GcResult> {
    const { dry, workspace, forget } = this.flags
    const r = await this.call('gc', { cwd: process.cwd(), dry, workspace, allCommits: this.flags['all-commits'], ...(forget != null ? { forget } : {}) })
    for (const p of r.missingProjects ?? []) this.warn(`project folder missing, its last recorded data kept: ${p} (\`mlp gc --forget ${p}\` drops it)`)
    for (const p of r.forgotten ?? []) this.log(`${dry ? 'would forget' : 'forgot'} ${p}`)
    const uncompacted = (r.uncompactedPacks ?? 0) > 0
      ? `; ${formatBytes(r.uncompactedDeadBytes ?? 0)} dead in ${r.uncompactedPacks ?? 0} pack${r.uncompactedPacks === 1 ? '' : 's'} left as ${r.uncompactedPacks === 1 ? 'it is' : 'they are'} (at least ${Math.round((r.compactBelow ?? 0.5) * 100)}% live: rewriting would copy more than it returns)`
      : ''
    const held = ((r.heldInCurrentPack ?? 0) > 0 ? `; ${formatBytes(r.heldInCurrentPack ?? 0)} stay in the pack being written until the daemon moves to a new one` : '') + uncompacted
    if (dry) {
      for (const cid of r.wouldRemove ?? []) this.log(`would remove ${cid}`)
      this.log(`would remove ${r.removedBlocks} blocks (${formatBytes(r.removedBytes)}); keep ${r.reachableBlocks} reachable from ${r.roots} roots; would return ${formatBytes(r.reclaimedBytes)} to disk${held}`)
    } else {
      this.log(`removed ${r.removedBlocks} blocks (${formatBytes(r.removedBytes)}); kept ${r.reachableBlocks} reachable from ${r.roots} roots; ${formatBytes(r.reclaimedBytes)} returned to disk (packs ${formatBytes(r.packBytesBefore ?? 0)} -> ${formatBytes(r.packBytesAfter ?? 0)})${held}`)
    }
    return r
  }
}
