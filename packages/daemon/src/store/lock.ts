/**
 * A readers-writer lock: imports, exports and fetches share the store;
 * gc takes it alone, so it never sweeps a block an operation is about to
 * reference. Writers are not starved: once one waits, new readers queue.
 */
export class RwLock {
  private readers = 0
  private writer = false
  private readonly queue: Array<{ write: boolean, wake: () => void }> = []

  async read<T>(fn: () => Promise<T>): Promise<T> {
    await this.acquire(false)
    try {
      return await fn()
    } finally {
      this.readers--
      this.drain()
    }
  }

  async write<T>(fn: () => Promise<T>): Promise<T> {
    await this.acquire(true)
    try {
      return await fn()
    } finally {
      this.writer = false
      this.drain()
    }
  }

  private async acquire (write: boolean): Promise<void> {
    if (this.queue.length === 0 && !this.writer && (!write || this.readers === 0)) {
      if (write) this.writer = true
      else this.readers++
      return
    }
    await new Promise<void>((resolve) => { this.queue.push({ write, wake: resolve }) })
  }

  private drain (): void {
    while (this.queue.length > 0 && !this.writer) {
      const next = this.queue[0]
      if (next.write) {
        if (this.readers > 0) return
        this.queue.shift()
        this.writer = true
        next.wake()
        return
      }
      this.queue.shift()
      this.readers++
      next.wake()
    }
  }
}
