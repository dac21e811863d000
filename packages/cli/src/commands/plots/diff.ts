import { Args, Flags } from '@oclif/core'
import { BaseCommand } from '../../base-command.js'
import { DEFAULT_PLOTS_OUT, writePlotsPage, type PlotsOutput } from '../../plots-page.js'

export default class PlotsDiff extends BaseCommand<typeof PlotsDiff> {
  static override summary = 'Overlay the plots at several git revisions in one HTML page that works offline'
  static override description = `As in DVC: no revision draws HEAD and the workspace, one draws it and the workspace; \`workspace\` names the working tree. A data file git does not hold comes from that revision's mlp.lock (or pointer file) through the store, fetched from peers if this machine lacks it. The page goes to ${DEFAULT_PLOTS_OUT} unless -o names another file (or a folder).`
  static override examples = ['<%= config.bin %> plots diff HEAD~1', '<%= config.bin %> plots diff main HEAD workspace -o compare.html', '<%= config.bin %> plots diff HEAD~1 --targets eval/loss.csv', '<%= config.bin %> plots diff lr02 HEAD']
  static override flags = {
    out: Flags.string({ char: 'o', description: `HTML file to write (default ${DEFAULT_PLOTS_OUT})` }),
    targets: Flags.string({ description: 'a plot id or data file to draw (repeatable; default: every declared plot)', multiple: true, multipleNonGreedy: true })
  }

  static override args = {
    revs: Args.string({ description: 'git revisions (branches, tags, commits), experiment names (a revision of the same name wins) or workspace', multiple: true })
  }

  async run (): Promise<PlotsOutput> {
    const result = await this.call('plots/diff', { cwd: process.cwd(), revs: this.args.revs, targets: this.flags.targets })
    return await writePlotsPage(result, this.flags.out, (line) => { this.log(line) })
  }
}
