import { ExpError, type ExpRecord, type ExpRow } from '@mlp/proto'

/** The row `mlp exp show` prints for a record. */
export function toRow (r: ExpRecord, self: string): ExpRow {
  return {
    name: r.name,
    by: r.author,
    mine: r.author === self,
    base: r.base,
    state: r.state,
    where: [...new Set(Object.values(r.ranOn))],
    startedAt: r.startedAt,
    durationMs: r.durationMs,
    params: r.params,
    metrics: r.metrics,
    ...(r.patch != null ? { patch: r.patch } : {}),
    ...(r.reason != null ? { reason: r.reason } : {})
  }
}

/** A metric's value in a row: `key` alone, or `file:key` when files share a key. */
function metricOf (row: ExpRow, metric: string): unknown {
  const colon = metric.lastIndexOf(':')
  const file = colon >= 0 ? metric.slice(0, colon) : undefined
  const key = colon >= 0 ? metric.slice(colon + 1) : metric
  return row.metrics.find((m) => m.key === key && (file == null || m.file === file))?.value
}

/**
 * The live experiments (tombstones left out), newest first, or sorted by a
 * metric (ascending unless `order` is `desc`, as DVC's `--sort-order`);
 * rows without that metric go last. Naming a metric no experiment has is an error.
 */
export function experimentRows (records: ExpRecord[], self: string, sortBy?: string, order: 'asc' | 'desc' = 'asc'): ExpRow[] {
  const rows = records.filter((r) => r.state !== 'removed').map((r) => toRow(r, self))
  rows.sort((a, b) => b.startedAt.localeCompare(a.startedAt) || a.name.localeCompare(b.name))
  if (sortBy == null) return rows
  if (rows.length > 0 && rows.every((r) => metricOf(r, sortBy) === undefined)) {
    const known = [...new Set(rows.flatMap((r) => r.metrics.map((m) => m.key)))].slice(0, 10)
    throw new ExpError(`no experiment has a metric '${sortBy}'${known.length > 0 ? `: metrics are ${known.join(', ')}` : ''}`)
  }
  const sign = order === 'desc' ? -1 : 1
  return rows.sort((a, b) => {
    const x = metricOf(a, sortBy)
    const y = metricOf(b, sortBy)
    if (typeof x !== 'number' || typeof y !== 'number') return (typeof x === 'number' ? -1 : 0) - (typeof y === 'number' ? -1 : 0)
    return sign * (x - y)
  })
}
