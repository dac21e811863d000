import type { SharedRoot } from '@mlp/proto'
import { readJsonFile, writeJsonAtomic } from './team-json.js'

/** One published root: the cid, and the absolute path it was shared from, if any. */
interface ShareEntry {
  cid: string
  path?: string
  at: string
}

/**
 * Roots published with `mlp share`, in `MLP_HOME/shares.json` (mode 0600,
 * written atomically): the only data strangers may read. Kept apart from
 * pins on purpose: a root fetched, pushed or replicated is pinned too, and
 * must never become public by being pinned.
 */
export class ShareList {
  private readonly entries = new Map<string, ShareEntry>()

  constructor (private readonly file: string) {}

  async load (): Promise<void> {
    const data = await readJsonFile(this.file)
    if (data == null) return
    const roots = (data as { roots?: unknown }).roots
    if (!Array.isArray(roots)) throw new Error(`${this.file}: expected {"roots": [...]}`)
    for (const r of roots as Array<Partial<ShareEntry>>) {
      if (typeof r?.cid === 'string') this.entries.set(r.cid, { cid: r.cid, path: typeof r.path === 'string' ? r.path : undefined, at: typeof r.at === 'string' ? r.at : '' })
    }
  }

  /** Whether `cid` (a string as `CID.toString()` gives it) is a published root. */
  has (cid: string): boolean {
    return this.entries.has(cid)
  }

  list (): SharedRoot[] {
    return [...this.entries.values()].sort((a, b) => a.at.localeCompare(b.at)).map((e) => ({ cid: e.cid, ...(e.path != null ? { path: e.path } : {}), at: e.at }))
  }

  /** Publishes roots (one write for all of them). */
  async add (roots: Array<{ cid: string, path?: string }>): Promise<void> {
    const at = new Date().toISOString()
    for (const r of roots) this.entries.set(r.cid, { cid: r.cid, path: r.path, at })
    await this.save()
  }

  /** Withdraws the roots whose cid or shared-from path is in `keys`; returns them. */
  async remove (keys: { cids: Set<string>, paths: Set<string> }): Promise<SharedRoot[]> {
    const gone = [...this.entries.values()].filter((e) => keys.cids.has(e.cid) || (e.path != null && keys.paths.has(e.path)))
    if (gone.length === 0) return []
    for (const e of gone) this.entries.delete(e.cid)
    await this.save()
    return gone.map((e) => ({ cid: e.cid, ...(e.path != null ? { path: e.path } : {}), at: e.at }))
  }

  private async save (): Promise<void> {
    await writeJsonAtomic(this.file, { roots: [...this.entries.values()] })
  }
}
