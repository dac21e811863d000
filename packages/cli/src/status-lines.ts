import type { StatusResult } from '@mlp/proto'

/** The lines `mlp status` prints for a result (without `--json`). */
export function statusLines (r: StatusResult): string[] {
  const lines: string[] = []
  const changed = r.outs.filter((o) => o.state !== 'unchanged')
  for (const s of r.stages) lines.push(`stage ${s.stage}: ${s.reasons.join(', ')}`)
  if (changed.length === 0 && r.stages.length === 0) lines.push(r.outs.length === 0 ? 'nothing tracked yet: `mlp add <path>`' : 'data, pointers and pipeline are up to date')
  for (const o of changed) {
    lines.push(`${o.state}: ${o.path}${o.stage != null ? ` (out of stage ${o.stage})` : ''}${o.state === 'missing' && !o.inStore ? ' (not in the local store either: `mlp pull`)' : ''}`)
    for (const p of o.changes?.added ?? []) lines.push(`    added:    ${p}`)
    for (const p of o.changes?.modified ?? []) lines.push(`    modified: ${p}`)
    for (const p of o.changes?.deleted ?? []) lines.push(`    deleted:  ${p}`)
  }
  return lines
}
