/** What `mlp version` reports. */
export interface VersionReport {
  /** This CLI's version. */
  cli: string
  /** The running daemon's version; null when none runs for this `MLP_HOME`. */
  daemon: string | null
  /** The running daemon's pid, when one runs. */
  daemonPid: number | null
  node: string
  platform: string
  /** Set when the CLI and the daemon differ: the daemon must be restarted. */
  warning?: string
}

/**
 * The warning for a CLI and daemon of different versions, or undefined when
 * they agree or no daemon runs. After an upgrade the old daemon keeps running
 * until restarted, and its API may lack routes the new CLI calls.
 */
export function versionWarning (cli: string, daemon: string | null): string | undefined {
  if (daemon == null || daemon === cli) return undefined
  return `the daemon runs mlp ${daemon} but this CLI is ${cli}: restart it with \`mlp daemon stop\` then \`mlp daemon start\``
}

/** The human lines of a {@link VersionReport}. */
export function formatVersions (r: VersionReport): string {
  return [
    `mlp CLI     ${r.cli}`,
    `mlp daemon  ${r.daemon == null ? 'not running (start it with `mlp daemon start`)' : `${r.daemon} (pid ${r.daemonPid ?? '?'})`}`,
    `node        ${r.node} ${r.platform}`
  ].join('\n')
}
