/**
 * Slurm's time formats as `--time` takes them: `minutes`, `minutes:seconds`,
 * `hours:minutes:seconds`, `days-hours`, `days-hours:minutes`,
 * `days-hours:minutes:seconds`.
 */
const TIME = /^(\d{1,7}|\d{1,7}:\d{1,2}|\d{1,5}:\d{1,2}:\d{1,2}|\d{1,4}-\d{1,2}|\d{1,4}-\d{1,2}:\d{1,2}|\d{1,4}-\d{1,2}:\d{1,2}:\d{1,2})$/

/** A stage's `resources.time` as sbatch's `--time` value (a bare number is minutes), or undefined when it is not one. */
export function slurmTime (v: unknown): string | undefined {
  if (typeof v === 'number') return Number.isInteger(v) && v > 0 && v < 1e7 ? String(v) : undefined
  if (typeof v !== 'string' || !TIME.test(v) || /^0+$/.test(v)) return undefined
  return v
}
