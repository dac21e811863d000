import { PipelineError } from './errors.js'

/** Which way a metric improves. */
export type MetricDirection = 'higher' | 'lower'

/**
 * A stage's `meta: {mlp: {metrics: {acc: higher, loss: lower}}}`: which way
 * each metric (by its dotted key in the stage's metrics files) is better, so
 * `mlp report` can say whether a change is an improvement. DVC ignores
 * `meta`, so a dvc.yaml keeps working there. Undefined when absent.
 */
export function metricDirections (meta: unknown, where: string): Record<string, MetricDirection> | undefined {
  const mlp = meta != null && typeof meta === 'object' && !Array.isArray(meta) ? (meta as Record<string, unknown>).mlp : undefined
  const metrics = mlp != null && typeof mlp === 'object' && !Array.isArray(mlp) ? (mlp as Record<string, unknown>).metrics : undefined
  if (metrics == null) return undefined
  if (typeof metrics !== 'object' || Array.isArray(metrics)) throw new PipelineError(`${where}: meta.mlp.metrics must map metric names to 'higher' or 'lower'`)
  const out: Record<string, MetricDirection> = {}
  for (const [key, way] of Object.entries(metrics as Record<string, unknown>)) {
    if (way !== 'higher' && way !== 'lower') throw new PipelineError(`${where}: meta.mlp.metrics.${key} must be 'higher' or 'lower', not ${JSON.stringify(way)}`)
    out[key] = way
  }
  return out
}
