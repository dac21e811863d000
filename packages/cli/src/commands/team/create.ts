import { Flags } from '@oclif/core'
import { createTeamKey, type TeamKeyResult } from '@mlp/daemon'
import { BaseCommand } from '../../base-command.js'

export default class TeamCreate extends BaseCommand<typeof TeamCreate> {
  static override summary = 'Make a swarm key for a private team network and print the line teammates join with'
  static override description = 'Writes a new random swarm key (MLP_HOME/swarm.key, mode 0600). With a swarm key only peers holding the same key can connect at all, and every one of them is a teammate. Give the printed line to each teammate for `mlp team join <line>` (it is a secret: send it privately), then restart the daemons: the key is read at start. Run again to print the line of the key in place; --force replaces it (every teammate must join again).'
  static override examples = ['<%= config.bin %> team create', '<%= config.bin %> team create --force']
  static override flags = {
    force: Flags.boolean({ description: 'replace the swarm key in place with a new one', default: false })
  }

  async run (): Promise<TeamKeyResult> {
    const r = await createTeamKey(this.home, { force: this.flags.force })
    this.log(r.line)
    if (r.written) process.stderr.write(`new swarm key in ${r.file}: on each teammate's machine run \`mlp team join <the line above>\`, then restart every daemon (\`mlp daemon stop && mlp daemon start\`): the key is read at start\n`)
    else process.stderr.write(`the swarm key in ${r.file} is kept (\`--force\` makes a new one): the line above lets one more teammate join\n`)
    return r
  }
}
