import type { DiffEntry, DiffFile, DiffResult } from '@mlp/proto'

/** A file of one side of a diff, with the tracked output it belongs to. */
export interface SideFile extends DiffFile {
  out: string
}

/** What {@link compareSides} answers: {@link DiffResult} without its sides and fetch count. */
export type Changes = Pick<DiffResult, 'added' | 'deleted' | 'modified' | 'renamed' | 'summary'>

const byPath = (a: DiffEntry, b: DiffEntry): number => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0)
const file = (f: SideFile): DiffFile => ({ cid: f.cid, size: f.size })

/**
 * Files of two sides (by path relative to the project root) as `dvc diff`
 * reports them: added, deleted, modified (same path, other content id) and
 * renamed (a deleted and an added file with the same content id, paired in
 * path order), each list sorted by path, with counts and bytes.
 */
export function compareSides (old: ReadonlyMap<string, SideFile>, now: ReadonlyMap<string, SideFile>): Changes {
  const added: DiffEntry[] = []
  const deleted: DiffEntry[] = []
  const modified: DiffEntry[] = []
  const renamed: DiffEntry[] = []
  for (const [path, n] of now) {
    const o = old.get(path)
    if (o == null) added.push({ path, out: n.out, new: file(n) })
    else if (o.cid !== n.cid) modified.push({ path, out: n.out, old: file(o), new: file(n) })
  }
  for (const [path, o] of old) if (!now.has(path)) deleted.push({ path, out: o.out, old: file(o) })
  added.sort(byPath)
  deleted.sort(byPath)
  modified.sort(byPath)
  // a deleted file whose content reappears at an added path was moved
  const gone = new Map<string, DiffEntry[]>()
  for (const d of deleted) {
    const list = gone.get(d.old?.cid ?? '') ?? []
    list.push(d)
    gone.set(d.old?.cid ?? '', list)
  }
  const paired = new Set<DiffEntry>()
  const stillAdded = added.filter((a) => {
    const from = gone.get(a.new?.cid ?? '')?.shift()
    if (from == null) return true
    paired.add(from)
    renamed.push({ path: a.path, oldPath: from.path, out: a.out, old: from.old, new: a.new })
    return false
  })
  const stillDeleted = deleted.filter((d) => !paired.has(d))
  const sum = (list: DiffEntry[], side: 'old' | 'new'): number => list.reduce((n, e) => n + (e[side]?.size ?? 0), 0)
  return {
    added: stillAdded,
    deleted: stillDeleted,
    modified,
    renamed,
    summary: {
      added: stillAdded.length,
      deleted: stillDeleted.length,
      modified: modified.length,
      renamed: renamed.length,
      bytes: { added: sum(stillAdded, 'new'), deleted: sum(stillDeleted, 'old'), modifiedOld: sum(modified, 'old'), modifiedNew: sum(modified, 'new') }
    }
  }
}
