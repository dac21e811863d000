import { Args, Flags } from '@oclif/core'
import { joinTeam, type TeamKeyResult } from '@mlp/daemon'
import { BaseCommand } from '../../base-command.js'

export default class TeamJoin extends BaseCommand<typeof TeamJoin> {
  static override summary = 'Join a team: write the swarm key from the line `mlp team create` printed'
  static override description = 'Writes the key to MLP_HOME/swarm.key (mode 0600). Restart the daemon for it to take effect: then only peers with the same key can connect, and each of them is a teammate. A different key already in place is kept unless --force.'
  static override examples = ['<%= config.bin %> team join mlp-team:v1:5f0c...']
  static override args = {
    line: Args.string({ description: 'the line `mlp team create` printed (mlp-team:v1:...)', required: true })
  }

  static override flags = {
    force: Flags.boolean({ description: 'replace a different swarm key already in place (leaving that team)', default: false })
  }

  async run (): Promise<Omit<TeamKeyResult, 'line'>> {
    const r = await joinTeam(this.home, this.args.line, { force: this.flags.force })
    this.log(r.written
      ? `joined: swarm key written to ${r.file}; restart the daemon (\`mlp daemon stop && mlp daemon start\`) for it to take effect`
      : `already in this team (${r.file} holds this key); restart the daemon if it was started before the key was written`)
    // the key is a secret: not echoed back
    return { file: r.file, written: r.written }
  }
}
