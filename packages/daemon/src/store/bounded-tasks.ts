/**
 * At most `limit` tasks running at once, and at most `budget` of their
 * summed costs (say, bytes each may hold in memory; one task alone always
 * runs, whatever its cost), for work whose cost is waiting
 * (file-system calls go through libuv's thread pool one at a time per
 * caller: a file written out is about seven such round trips, and done one
 * file after another they left the daemon idle most of the time).
 *
 * The first failure wins: {@link BoundedTasks.run} throws it instead of
 * starting more, and {@link BoundedTasks.drain} throws it once every task
 * already started has settled, so nothing is still writing when the caller
 * moves on (say, to remove a temporary directory).
 */
export class BoundedTasks {
  private readonly running = new Set<Promise<void>>()
  private spent = 0
  private failure: { error: unknown } | undefined

  constructor (private readonly limit: number, private readonly budget = Number.POSITIVE_INFINITY) {
    if (!Number.isInteger(limit) || limit < 1) throw new RangeError(`limit must be a positive integer, not ${limit}`)
  }

  /**
   * Starts `task` once fewer than `limit` run and its `cost` fits in what
   * the running ones leave of the budget; throws the first failure of an
   * earlier task instead.
   */
  async run (task: () => Promise<void>, cost = 0): Promise<void> {
    while (this.running.size > 0 && this.failure == null && (this.running.size >= this.limit || this.spent + cost > this.budget)) await Promise.race(this.running)
    if (this.failure != null) throw this.failure.error
    this.spent += cost
    const p: Promise<void> = task().catch((error: unknown) => {
      this.failure ??= { error }
    }).finally(() => {
      this.running.delete(p)
      this.spent -= cost
    })
    this.running.add(p)
  }

  /** Throws the first failure of a task, if one failed: for a caller that does other work between {@link run}s. */
  throwIfFailed (): void {
    if (this.failure != null) throw this.failure.error
  }

  /** Waits for every started task to settle; throws the first failure, if any. */
  async drain (): Promise<void> {
    await this.settle()
    if (this.failure != null) throw this.failure.error
  }

  /** Waits for every started task to settle, whatever they did (for cleanup after an error elsewhere). */
  async settle (): Promise<void> {
    while (this.running.size > 0) await Promise.allSettled([...this.running])
  }
}
