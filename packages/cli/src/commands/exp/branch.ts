import { Args } from '@oclif/core'
import type { ExpBranchResult } from '@mlp/proto'
import { BaseCommand } from '../../base-command.js'

export default class ExpBranch extends BaseCommand<typeof ExpBranch> {
  static override summary = 'Make a git branch holding an experiment, committed on its base'
  static override description = 'One commit on the experiment\'s base commit with its code and params changes and its mlp.lock; the workspace and the current branch are not touched.'
  static override examples = ['<%= config.bin %> exp branch lucky-otter lr-0.2']
  static override args = {
    name: Args.string({ description: 'experiment name', required: true }),
    branch: Args.string({ description: 'new branch name', required: true })
  }

  async run (): Promise<ExpBranchResult> {
    const r = await this.call('exp/branch', { cwd: process.cwd(), name: this.args.name, branch: this.args.branch })
    this.log(`branch '${r.branch}' at ${r.commit.slice(0, 9)} holds the experiment: \`git checkout ${r.branch}\` then \`mlp pull\``)
    return r
  }
}
