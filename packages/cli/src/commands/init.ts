import { BaseCommand } from '../base-command.js'

export default class Init extends BaseCommand<typeof Init> {
  static override summary = 'Make the current git repository an mlp project'
  static override description = 'Creates .mlp/ at the root of the git repository and registers the project with this machine\'s daemon, so `mlp gc` keeps everything its pointer files reference.'
  static override examples = ['git init && <%= config.bin %> init']

  async run (): Promise<{ root: string }> {
    const r = await this.call('init', { cwd: process.cwd() })
    this.log(`initialised mlp project in ${r.root}`)
    this.log('next: `mlp add <data>`, then commit the .mlp pointer files and .gitignore')
    return r
  }
}
