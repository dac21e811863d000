/**
 * How long a placement holds a peer's GPUs before its job starts there: the
 * requester stores the stage's inputs in between. A hold whose job never
 * starts (the inputs could not be stored) lapses after this.
 */
export const PLACEMENT_HOLD_MS = 120_000

/**
 * The GPUs this requester's stages hold on each peer: placed there and not
 * started yet, or running there. A peer reports its jobs only once they
 * reach it, and stages of a sweep are placed at the same moment, so without
 * these holds two GPU stages placed together both went to the first of two
 * idle single-GPU peers and ran one after the other. Placement
 * (exec/remote.ts) counts a peer free only while it has fitting GPUs beyond
 * what is held there.
 */
export class GpuHolds {
  /** Placements not started yet, by peer: GPUs asked and when. */
  private readonly placed = new Map<string, Array<{ gpus: number, at: number }>>()
  /** Jobs running, by peer then job id: GPUs asked. */
  private readonly running = new Map<string, Map<string, number>>()

  constructor (private readonly holdMs = PLACEMENT_HOLD_MS, private readonly now: () => number = Date.now) {}

  /** A stage asking `gpus` GPUs was just placed on `peer`. */
  place (peer: string, gpus: number): void {
    if (gpus <= 0) return
    this.placed.set(peer, [...this.live(peer), { gpus, at: this.now() }])
  }

  /** Job `id` asking `gpus` starts on `peer`: it takes over the oldest placement held there. */
  start (peer: string, id: string, gpus: number): void {
    if (gpus <= 0) return
    const pending = this.live(peer)
    const i = pending.findIndex((p) => p.gpus === gpus)
    if (i >= 0) pending.splice(i, 1)
    if (pending.length > 0) this.placed.set(peer, pending)
    else this.placed.delete(peer)
    let jobs = this.running.get(peer)
    if (jobs == null) this.running.set(peer, jobs = new Map())
    jobs.set(id, gpus)
  }

  /** Job `id` on `peer` ended (done, failed, cancelled, or its executor went away). */
  end (peer: string, id: string): void {
    const jobs = this.running.get(peer)
    jobs?.delete(id)
    if (jobs?.size === 0) this.running.delete(peer)
  }

  /** GPUs held on `peer` now. */
  held (peer: string): number {
    let n = 0
    for (const p of this.live(peer)) n += p.gpus
    for (const g of this.running.get(peer)?.values() ?? []) n += g
    return n
  }

  /** The placements on `peer` still within their hold time. */
  private live (peer: string): Array<{ gpus: number, at: number }> {
    const now = this.now()
    const pending = (this.placed.get(peer) ?? []).filter((p) => now - p.at < this.holdMs)
    if (pending.length === 0) this.placed.delete(peer)
    return pending
  }
}
