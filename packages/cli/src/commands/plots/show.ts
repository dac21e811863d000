import { Args, Flags } from '@oclif/core'
import { BaseCommand } from '../../base-command.js'
import { DEFAULT_PLOTS_OUT, writePlotsPage, type PlotsOutput } from '../../plots-page.js'

export default class PlotsShow extends BaseCommand<typeof PlotsShow> {
  static override summary = 'Draw the plots the pipeline declares into one HTML page that works offline'
  static override description = `Every plot of the stages' \`plots:\` and the top-level \`plots:\` list (DVC's schema: x, y, template, title; CSV, TSV, JSON or YAML data), drawn from the workspace as SVG by Vega-Lite and inlined: the page loads nothing. Targets are plot ids or data files. The page goes to ${DEFAULT_PLOTS_OUT} unless -o names another file (or a folder).`
  static override examples = ['<%= config.bin %> plots show', '<%= config.bin %> plots show eval/loss.csv -o loss.html']
  static override flags = {
    out: Flags.string({ char: 'o', description: `HTML file to write (default ${DEFAULT_PLOTS_OUT})` })
  }

  static override args = {
    targets: Args.string({ description: 'plot ids or data files (default: every declared plot)', multiple: true })
  }

  async run (): Promise<PlotsOutput> {
    const result = await this.call('plots/show', { cwd: process.cwd(), targets: this.args.targets })
    return await writePlotsPage(result, this.flags.out, (line) => { this.log(line) })
  }
}
