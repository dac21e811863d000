import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { BaseCommand } from '../base-command.js'

export default class Init extends BaseCommand<typeof Init> {
  static override summary = 'Make the current git repository an mlp project'
  static override description = 'Creates .mlp/ at the root of the git repository and registers the project with this machine\'s daemon, so `mlp gc` keeps everything its pointer files reference.'
  static override examples = ['git init && <%= config.bin %> init']

  async run (): Promise<{ root: string }> {
    const r = await this.call('init', { cwd: process.cwd() })
    this.log(`initialised mlp project in ${r.root}`)
    // a DVC repository: its data and lock come over in one command, not path by path
    if (existsSync(join(r.root, '.dvc'))) this.log('this is a DVC repository: `mlp migrate` brings its .dvc files, dvc.lock and DVC cache over')
    else this.log('next: `mlp add <data>`, then commit the .mlp pointer files and .gitignore')
    return r
  }
}
