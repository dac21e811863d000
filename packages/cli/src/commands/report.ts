import { existsSync, statSync } from 'node:fs'
import { writeFile } from 'node:fs/promises'
import { basename, dirname, join, resolve } from 'node:path'
import { Args, Flags } from '@oclif/core'
import type { ReportResult } from '@mlp/proto'
import { BaseCommand } from '../base-command.js'

export default class Report extends BaseCommand<typeof Report> {
  static override summary = 'Write a markdown review of the branch against a base: data changes, params, metrics with deltas, stages, plots'
  static override description = 'Compares the workspace with <base> (default: the merge base with the remote\'s default branch, else a local main or master; the report says which). With -o the report is written to that file and each plot as an SVG file beside it, linked from the report: commit them with the branch and GitHub or GitLab show the review. Without -o the markdown goes to stdout (plots need -o).'
  static override examples = ['<%= config.bin %> report -o report.md', '<%= config.bin %> report main -o review/report.md']
  static override args = {
    base: Args.string({ description: 'git revision to compare with (default: merge base with the default branch)' })
  }

  static override flags = {
    out: Flags.string({ char: 'o', description: 'write the report to this file, and its plot SVGs beside it' })
  }

  async run (): Promise<ReportResult> {
    const out = this.flags.out == null ? undefined : resolve(this.flags.out)
    if (out != null && existsSync(out) && statSync(out).isDirectory()) this.error(`${this.flags.out} is a directory: name the report file (e.g. ${join(out, 'report.md')})`)
    const r = await this.call('report', { cwd: process.cwd(), base: this.args.base, name: out == null ? undefined : basename(out) })
    if (out == null) {
      if (!this.jsonEnabled()) process.stdout.write(r.markdown)
      if (r.plots.length > 0) this.warn(`${r.plots.length} plot(s) not written: give -o <file> to write them beside the report`)
      return r
    }
    // plot names come from the daemon, made of plain characters; checked again before any write
    for (const p of r.plots) if (!/^[A-Za-z0-9][A-Za-z0-9._-]*\.svg$/.test(p.file)) this.error(`refusing plot file name ${JSON.stringify(p.file)}`)
    for (const p of r.plots) await writeFile(join(dirname(out), p.file), p.svg)
    await writeFile(out, r.markdown)
    this.log(`wrote ${this.flags.out}${r.plots.length > 0 ? ` and ${r.plots.length} plot file(s) beside it` : ''}; base: ${r.base.rev} at ${r.base.commit.slice(0, 12)} (${r.base.how})`)
    return r
  }
}
