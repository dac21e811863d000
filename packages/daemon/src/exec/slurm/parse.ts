/**
 * Parsers of what Slurm's commands print, as Slurm 22.05 prints it (real
 * captures in packages/daemon/test/fixtures/slurm/). Pure functions: the
 * executor runs the commands, these read them.
 */

/** The `sinfo -O` fields {@link parseSinfo} reads, `|`-separated (the `:|` suffix is sinfo's own field separator syntax). */
export const SINFO_FORMAT = 'NodeList:|,Gres:|,GresUsed:|,StateLong:|'

/** The `squeue -o` format {@link parseSqueue} reads: job id, state, reason. */
export const SQUEUE_FORMAT = '%i|%T|%r'

/** GPUs of one type on one node. */
export interface NodeGpus {
  node: string
  /** gres type (`h200`), or '' for an untyped `gpu:N`. */
  type: string
  total: number
  used: number
  /** Node state as sinfo says it (`idle`, `mixed`, `allocated`, `drained`...). */
  state: string
}

/**
 * GPU counts in a gres string: `gpu:h200:1`, `gpu:2`, `gpu:h200:2(S:0-1),gpu:a100:4`,
 * `gpu:h200:1(IDX:0)`, `gpu:h200:2(IDX:0,2)`. Other gres (`shard`, `mps`) are skipped.
 */
export function parseGres (text: string): Array<{ type: string, count: number }> {
  const out: Array<{ type: string, count: number }> = []
  // a parenthesised index list may hold commas: match entries, never split on ','
  for (const m of text.matchAll(/(?:^|,)gpu(?::([^:(),]+))?:(\d+)(?:\([^)]*\))?/g)) {
    out.push({ type: m[1] ?? '', count: Number(m[2]) })
  }
  return out
}

/** One node's GPUs per line of `sinfo -h -N -O <SINFO_FORMAT>`. */
export function parseSinfo (text: string): NodeGpus[] {
  const out: NodeGpus[] = []
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue
    const [node, gres, used, state] = line.split('|').map((f) => f.trim())
    if (node == null || gres == null || used == null) throw new Error(`unexpected sinfo line: ${line}`)
    const usedBy = new Map(parseGres(used).map((g) => [g.type, g.count]))
    for (const g of parseGres(gres)) out.push({ node, type: g.type, total: g.count, used: usedBy.get(g.type) ?? 0, state: state ?? '' })
  }
  return out
}

/** Node states in which a node's GPUs will not take jobs (a trailing `*` means not responding). */
export function nodeUnusable (state: string): boolean {
  return /down|drain|fail|inval|maint|reserved|not_responding|power/i.test(state) || state.endsWith('*')
}

/** One job of `squeue -h -o <SQUEUE_FORMAT>`. */
export interface QueuedJob {
  id: string
  state: string
  reason: string
}

/** Jobs per line of `squeue -h -o <SQUEUE_FORMAT>`, by job id. */
export function parseSqueue (text: string): Map<string, QueuedJob> {
  const out = new Map<string, QueuedJob>()
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue
    const [id, state, reason] = line.split('|').map((f) => f.trim())
    if (id == null || state == null || !/^\d+(_\d+)?$/.test(id)) throw new Error(`unexpected squeue line: ${line}`)
    out.set(id, { id, state, reason: reason ?? '' })
  }
  return out
}

/** What {@link parseScontrolJob} reads of `scontrol show job <id>`. */
export interface ScontrolJob {
  id: string
  state: string
  reason: string
  /** Exit code of the batch script, and the signal that ended it (0 when none). */
  exitCode: number
  signal: number
  restarts: number
  timeLimit: string
  nodeList: string
  /** Every `Key=Value` pair, for messages. */
  fields: Record<string, string>
}

/**
 * `scontrol show job <id>` output: whitespace-separated `Key=Value` pairs
 * over several lines. A value never holds a space, except `Command=`, `WorkDir=`
 * and the `Std*=` paths, which are last on their lines and taken whole.
 * Undefined for "Invalid job id specified" (a job Slurm forgot after MinJobAge).
 */
export function parseScontrolJob (text: string): ScontrolJob | undefined {
  if (!/JobId=/.test(text)) return undefined
  const fields: Record<string, string> = {}
  for (const raw of text.split('\n')) {
    const line = raw.trim()
    const whole = /^(Command|WorkDir|StdErr|StdIn|StdOut|Comment|Reason)=(.*)$/.exec(line)
    if (whole != null && !line.includes(' Dependency=')) {
      fields[whole[1]] = whole[2]
      continue
    }
    for (const m of line.matchAll(/(?:^|\s)([A-Za-z/:_]+)=(\S*)/g)) fields[m[1]] = m[2]
  }
  const [code, sig] = (fields.ExitCode ?? '0:0').split(':').map((n) => Number(n))
  return {
    id: fields.JobId ?? '',
    state: fields.JobState ?? 'UNKNOWN',
    reason: fields.Reason ?? 'None',
    exitCode: Number.isFinite(code) ? code : 0,
    signal: Number.isFinite(sig) ? sig : 0,
    restarts: Number(fields.Restarts ?? 0) || 0,
    timeLimit: fields.TimeLimit ?? '',
    nodeList: fields.NodeList ?? '',
    fields
  }
}
