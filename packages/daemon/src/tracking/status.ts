import { existsSync } from 'node:fs'
import { basename, relative } from 'node:path'
import type { CID } from 'multiformats/cid'
import type { OutStatus } from '@mlp/proto'
import type { Store } from '../store/index.js'
import { checkParents } from './safe-write.js'
import type { TrackedOut } from './targets.js'

/** The id a workspace path has now, and the ids of each file below it (relative paths). */
export async function workspaceIds (store: Store, abs: string, signal?: AbortSignal): Promise<{ cid: string, files: Map<string, string>, hashedFiles: number }> {
  const collect = new Map<string, string>()
  const r = await store.importer.import(abs, basename(abs), { store: false, collect, signal })
  let files: Map<string, string> | undefined
  return {
    cid: r.link.cid.toString(),
    hashedFiles: r.hashedFiles,
    // only a modified out's status and checkout need these: an unchanged
    // 10,000-file status spent a sixth of its allocations on them
    get files () {
      files ??= new Map([...collect].map(([path, cid]) => [relative(abs, path).split('\\').join('/'), cid]))
      return files
    }
  }
}

/** Ids of each file and symlink below a recorded DAG, by relative path. */
export async function recordedIds (store: Store, cid: CID): Promise<Map<string, string>> {
  const files = new Map<string, string>()
  for await (const item of store.exporter.walk(cid)) {
    if (item.kind !== 'dir') files.set(item.path, item.cid.toString())
  }
  return files
}

/**
 * Workspace state of tracked outputs (pointer files' and stage outs alike);
 * unchanged files are not read (stat cache).
 */
export async function statusOf (store: Store, root: string, outs: TrackedOut[], signal?: AbortSignal): Promise<{ outs: OutStatus[], hashedFiles: number }> {
  const out: OutStatus[] = []
  let hashedFiles = 0
  for (const o of outs) {
    const { abs, cid } = o
    const inStore = await store.blockstore.has(cid)
    const base = { pointer: relative(root, o.source), ...(o.stage != null ? { stage: o.stage } : {}), path: relative(root, abs), cid: cid.toString(), inStore }
    // a path from a committed file may lead through a symlink out of the project: nothing there is read
    if (!(await checkParents(root, abs, false)) || !existsSync(abs)) {
      out.push({ ...base, state: 'missing' })
      continue
    }
    const now = await workspaceIds(store, abs, signal)
    hashedFiles += now.hashedFiles
    if (now.cid === base.cid) {
      out.push({ ...base, state: 'unchanged' })
      continue
    }
    const changes = inStore && cid.code !== 0x55 ? await diffDirectory(store, cid, now.files) : undefined
    out.push({ ...base, state: 'modified', changes })
  }
  return { outs: out, hashedFiles }
}

/** Per-file differences of a modified directory against its recorded DAG, or undefined if that is not readable. */
async function diffDirectory (store: Store, cid: CID, now: Map<string, string>): Promise<OutStatus['changes']> {
  let was: Map<string, string>
  try {
    was = await recordedIds(store, cid)
  } catch {
    // part of the recorded DAG is missing: report the change without details
    return undefined
  }
  if (was.size === 1 && was.has('')) return undefined
  const changes = { added: [] as string[], modified: [] as string[], deleted: [] as string[] }
  for (const [path, id] of now) {
    if (!was.has(path)) changes.added.push(path)
    else if (was.get(path) !== id) changes.modified.push(path)
  }
  for (const path of was.keys()) if (!now.has(path)) changes.deleted.push(path)
  return changes
}
