import { statfs } from 'node:fs/promises'
import { readJsonFile, writeJsonAtomic } from './team-json.js'

const UNITS: Record<string, number> = { '': 1, b: 1, k: 1024, kb: 1000, kib: 1024, m: 1024 ** 2, mb: 1000 ** 2, mib: 1024 ** 2, g: 1024 ** 3, gb: 1000 ** 3, gib: 1024 ** 3, t: 1024 ** 4, tb: 1000 ** 4, tib: 1024 ** 4 }

/** A size as config.yaml gives it: a number of bytes, or `50GiB`, `512 MB`, `1.5TiB`; undefined if it is not one. */
export function parseSize (value: unknown): number | undefined {
  if (typeof value === 'number') return Number.isSafeInteger(value) && value >= 0 ? value : undefined
  if (typeof value !== 'string') return undefined
  const m = /^\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*$/i.exec(value)
  const unit = m == null ? undefined : UNITS[m[2].toLowerCase()]
  if (m == null || unit == null) return undefined
  return Math.floor(Number(m[1]) * unit)
}

/** Default bytes of copies one teammate may ask this daemon to keep. */
export const DEFAULT_REPLICA_QUOTA = 50 * 1024 ** 3
/** Default free space a copy for a teammate must leave on the store's disk. */
export const DEFAULT_REPLICA_MIN_FREE = 1024 ** 3
/** Share of the disk a copy must leave free, whatever the configured floor. */
export const MIN_FREE_FRACTION = 0.05

/** Free and total bytes of the file system holding `dir`. */
export async function diskSpace (dir: string): Promise<{ free: number, total: number }> {
  const s = await statfs(dir)
  return { free: s.bavail * s.bsize, total: s.blocks * s.bsize }
}

/** The free space to keep on a disk of `total` bytes: the configured floor or 5 %, whichever is more. */
export function freeFloor (total: number, minFree: number): number {
  return Math.max(minFree, Math.ceil(total * MIN_FREE_FRACTION))
}

/**
 * Bytes of copies kept for each teammate (`push --to`), per root, in
 * `MLP_HOME/replicas.json`: what the per-peer quota is checked against. A
 * root pushed again is charged once, at its latest size.
 */
export class ReplicaLedger {
  private peers: Record<string, Record<string, number>> = {}

  constructor (private readonly file: string) {}

  async load (): Promise<void> {
    const data = await readJsonFile(this.file)
    const peers = (data as { peers?: unknown } | undefined)?.peers
    if (peers != null && typeof peers === 'object') this.peers = peers as Record<string, Record<string, number>>
  }

  /** Bytes kept for `peer`, leaving out `except` (a root being pushed again). */
  used (peer: string, except?: string): number {
    let n = 0
    for (const [root, bytes] of Object.entries(this.peers[peer] ?? {})) if (root !== except && typeof bytes === 'number') n += bytes
    return n
  }

  async record (peer: string, root: string, bytes: number): Promise<void> {
    (this.peers[peer] ??= {})[root] = bytes
    await writeJsonAtomic(this.file, { peers: this.peers })
  }
}
