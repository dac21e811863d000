import { Args, loadHelpClass } from '@oclif/core'
import { BaseCommand } from '../base-command.js'
import { unknownCommandMessage } from '../suggest.js'

export default class Help extends BaseCommand<typeof Help> {
  static override summary = 'Show help for mlp or for one command'
  static override description = 'The same as `mlp <command> --help`; without a command, every command with one line each.'
  static override examples = ['<%= config.bin %> help', '<%= config.bin %> help repro', '<%= config.bin %> help stage add']
  static override enableJsonFlag = false
  static override args = {
    command: Args.string({ description: 'the command (its words, as typed: `stage add`)', multiple: true })
  }

  async run (): Promise<void> {
    const words = this.args.command ?? []
    const id = words.join(':')
    const ids = this.config.commandIDs
    if (id !== '' && this.config.findCommand(id) == null && this.config.findTopic(id) == null) {
      // the same line, and exit code, as the unknown command itself gets
      process.stderr.write(`Error: ${unknownCommandMessage(words, { commandIds: ids })}\n`)
      process.exitCode = 2
      return
    }
    const HelpClass = await loadHelpClass(this.config)
    await new HelpClass(this.config).showHelp(words)
  }
}
