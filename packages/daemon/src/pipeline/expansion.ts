import { PipelineError } from './errors.js'
import { isComposite } from './py-float.js'

/**
 * Most stages one pipeline may expand to (`foreach` and `matrix` included).
 * mlp.yaml comes from git: without a bound, an 8-key matrix of 10 values
 * each (10^8 stages, a few lines of YAML) took every teammate's daemon down
 * with it on `mlp status`.
 */
export const MAX_STAGES = 10_000
/**
 * Most bytes (as JSON) the expanded stage bodies of one pipeline may take:
 * 10,000 copies of a large `do:` body would exhaust memory as surely as
 * 10^8 small ones.
 */
export const MAX_EXPANDED_BYTES = 64 * 1024 * 1024

/**
 * Longest string one `${}` interpolation may make (a cmd, a path). A params
 * value of 1 MiB repeated 300 times in one cmd is 300 MiB from a 2 KB
 * mlp.yaml; real commands are well under a kilobyte.
 */
export const MAX_INTERPOLATED_BYTES = 1024 * 1024

function mib (bytes: number): string {
  return `${(bytes / 1024 / 1024).toFixed(1)} MiB`
}

/** Stages a `foreach` over `items` makes (one per list item or mapping key); undefined if it is neither. */
export function foreachCount (items: unknown): number | undefined {
  if (Array.isArray(items)) return items.length
  if (isComposite(items)) return Object.keys(items).length
  return undefined
}

/** Stages a `matrix` makes: the product of its lists' lengths (each must be a non-empty list). */
export function matrixCount (matrix: Record<string, unknown>, where: string): number {
  let count = 1
  for (const [key, values] of Object.entries(matrix)) {
    if (!Array.isArray(values) || values.length === 0) throw new PipelineError(`${where}: matrix '${key}' must be a non-empty list`)
    count *= values.length
  }
  return count
}

/**
 * What a pipeline has expanded to so far. Each stage is checked before it
 * is expanded, from its count alone, so an oversized one costs nothing.
 */
export class ExpansionBudget {
  private stages = 0
  private bytes = 0
  private interpolated = 0

  /**
   * Accounts for `count` stages of about `bodyBytes` each from the stage
   * named in `where`; throws a one-line {@link PipelineError} naming it and
   * the count if the pipeline would go over {@link MAX_STAGES} or
   * {@link MAX_EXPANDED_BYTES}.
   */
  add (where: string, count: number, bodyBytes: number): void {
    if (this.stages + count > MAX_STAGES) {
      const others = this.stages === 0 ? '' : ` (${this.stages} before it)`
      throw new PipelineError(`${where}: expands to ${count} stages${others}; mlp allows at most ${MAX_STAGES} stages per pipeline`)
    }
    if (this.bytes + count * bodyBytes > MAX_EXPANDED_BYTES) {
      throw new PipelineError(`${where}: ${count} copies of a ${bodyBytes}-byte stage body are over the ${MAX_EXPANDED_BYTES / 1024 / 1024} MiB mlp expands per pipeline`)
    }
    this.stages += count
    this.bytes += count * bodyBytes
  }

  /**
   * Accounts for one string (or value) of `bytes` made by interpolation in
   * the stage named in `where`, before it is built: throws a one-line
   * {@link PipelineError} if it is over {@link MAX_INTERPOLATED_BYTES}, or if
   * the pipeline's interpolated values would total over
   * {@link MAX_EXPANDED_BYTES}.
   */
  addInterpolated (where: string, bytes: number, what: string): void {
    if (bytes > MAX_INTERPOLATED_BYTES) throw new PipelineError(`${where}: ${what} interpolates to ${mib(bytes)}; mlp allows at most ${mib(MAX_INTERPOLATED_BYTES)} per value`)
    if (this.interpolated + bytes > MAX_EXPANDED_BYTES) throw new PipelineError(`${where}: ${what} takes the pipeline's interpolated values over the ${MAX_EXPANDED_BYTES / 1024 / 1024} MiB mlp expands per pipeline`)
    this.interpolated += bytes
  }
}
