import { DaemonNotRunningError, UnknownRouteError } from '@mlp/proto'
import { BaseCommand } from '../base-command.js'
import { formatVersions, versionWarning, type VersionReport } from '../versions.js'

export default class Version extends BaseCommand<typeof Version> {
  static override summary = 'Show the versions of this CLI and of the running daemon'
  static override description = 'Also `mlp --version` and `mlp -V` (`-v` is left for verbose, as in DVC). Warns when the CLI and the daemon differ.'
  static override examples = ['<%= config.bin %> version', '<%= config.bin %> -V', '<%= config.bin %> version --json']

  async run (): Promise<VersionReport> {
    let daemon: string | null = null
    let daemonPid: number | null = null
    try {
      const status = await this.client.call('daemon/status', {})
      daemon = status.version
      daemonPid = status.pid
    } catch (err) {
      // a daemon older than the status route still answers: it is another version
      if (err instanceof UnknownRouteError) daemon = 'unknown (older)'
      else if (!(err instanceof DaemonNotRunningError)) throw err
    }
    const report: VersionReport = { cli: this.config.version, daemon, daemonPid, node: process.version, platform: `${process.platform}-${process.arch}` }
    const warning = versionWarning(report.cli, daemon)
    if (warning != null) {
      report.warning = warning
      process.stderr.write(`Warning: ${warning}\n`)
    }
    this.log(formatVersions(report))
    return report
  }
}
