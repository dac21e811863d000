import { LocalEditsError, type CheckoutOut } from '@mlp/proto'

/** What a command needs to end with the local-edits error after its report. */
export interface ReportTarget {
  jsonEnabled: () => boolean
}

/**
 * Ends `mlp checkout` / `mlp pull` that kept local edits: workspace files
 * whose content the store does not know. The report stays whole (under
 * `--json`, one document with the error inside it); the exit is non-zero
 * with one line on stderr naming the files and `--force`. False when none
 * were kept.
 */
export function failOnLocalEdits (cmd: ReportTarget, outs: CheckoutOut[], report: object): boolean {
  const kept = outs.flatMap((o) => o.skipped)
  if (kept.length === 0) return false
  const shown = kept.slice(0, 5).join(', ') + (kept.length > 5 ? ` and ${kept.length - 5} more` : '')
  const err = new LocalEditsError(`kept ${kept.length} local edit(s) the store has no copy of: ${shown}; \`mlp checkout --force\` overwrites them (\`mlp add\` first to keep them)`)
  if (cmd.jsonEnabled()) process.stdout.write(JSON.stringify({ ...report, error: { name: err.name, message: err.message } }) + '\n')
  process.stderr.write(`Error: ${err.message}\n`)
  process.exitCode = 1
  return true
}
