import { existsSync } from 'node:fs'
import { lstat } from 'node:fs/promises'
import { join, posix, resolve, sep } from 'node:path'
import { PathError, type DiffRequest, type DiffResult, type DiffSide } from '@mlp/proto'
import type { CID } from 'multiformats/cid'
import { resolveRevision } from '../pipeline/revision.js'
import type { Store } from '../store/index.js'
import { findProject, projectPath } from '../tracking/project.js'
import { checkParents } from '../tracking/safe-write.js'
import { workspaceIds } from '../tracking/status.js'
import { compareSides, type SideFile } from './compare.js'
import { listTree, ListingBlocks, type MissingData } from './listing.js'
import type { PeerBlocks } from './peer-blocks.js'
import { outsAtCommit, outsInWorkspace, type RecordedOut } from './tracked.js'

/** What a diff needs: the store, and (optionally) peers to list what the store lacks. */
export interface DiffComponents {
  store: Store
  /** Absent: only the local store is read, and missing data is an error at once. */
  peers?: PeerBlocks
}

/** One side as the diff reads it: its outs and, per out, its current content id. */
interface Side {
  info: DiffSide
  outs: RecordedOut[]
  /** The workspace's hashed files per out path (absent on disk: no entry); only for the workspace side. */
  workspace?: Map<string, { cid: string, files: Map<string, SideFile> }>
}

/**
 * `mlp diff`: the files of tracked outputs (pointer files and every
 * `mlp.lock`'s outs, files inside tracked directories) that differ between
 * revision `a` (default `HEAD`) and revision `b` (default: the workspace,
 * as it is on disk). An output recorded with the same content id on both
 * sides is not listed at all; the others are listed from the store, or
 * from peers (directory blocks and file root nodes only), or the diff
 * fails naming the revision and output whose data is missing.
 */
export async function diffRevisions (c: DiffComponents, request: DiffRequest, signal?: AbortSignal): Promise<DiffResult> {
  const root = findProject(request.cwd)
  const aRev = request.a ?? 'HEAD'
  const aCommit = await resolveRevision(root, aRev)
  const bCommit = request.b == null ? undefined : await resolveRevision(root, request.b)
  const targets = (request.targets ?? []).map((t) => targetPath(root, request.cwd, t)).filter((t): t is string => t != null)
  const touches = (p: string): boolean => targets.length === 0 || targets.some((t) => p === t || p.startsWith(`${t}/`) || t.startsWith(`${p}/`))
  const within = (p: string): boolean => targets.length === 0 || targets.some((t) => p === t || p.startsWith(`${t}/`))

  const a: Side = { info: { rev: aRev, commit: aCommit }, outs: (await outsAtCommit(root, aCommit)).filter((o) => touches(o.path)) }
  const b: Side = bCommit == null
    ? { info: { rev: 'workspace' }, outs: (await outsInWorkspace(root, signal)).filter((o) => touches(o.path)), workspace: new Map() }
    : { info: { rev: request.b as string, commit: bCommit }, outs: (await outsAtCommit(root, bCommit)).filter((o) => touches(o.path)) }
  for (const t of targets) {
    const tracked = [...a.outs, ...b.outs].some((o) => o.path === t || o.path.startsWith(`${t}/`) || t.startsWith(`${o.path}/`))
    if (!tracked) throw new PathError(`${t} is not a tracked output, nor inside or above one, at ${aRev} or ${b.info.rev}: see \`mlp status\` for what is tracked`)
  }
  if (b.workspace != null) {
    await c.store.lock.read(async () => {
      for (const o of b.outs) {
        const found = await onDisk(c.store, root, o, signal)
        if (found != null) b.workspace?.set(o.path, found)
      }
    })
  }

  // an out with the same content on both sides holds no change: neither side is listed
  const aCid = new Map(a.outs.map((o) => [o.path, o.cid.toString()]))
  const bCid = (o: RecordedOut): string | undefined => b.workspace == null ? o.cid.toString() : b.workspace.get(o.path)?.cid
  const same = new Set(b.outs.filter((o) => bCid(o) != null && bCid(o) === aCid.get(o.path)).map((o) => o.path))

  const blocks = new ListingBlocks(c.store, c.peers, signal)
  const oldFiles = await c.store.lock.read(async () => await revisionFiles(blocks, a, same, within))
  const newFiles = b.workspace == null ? await c.store.lock.read(async () => await revisionFiles(blocks, b, same, within)) : workspaceFiles(b, same, within)
  return { a: a.info, b: b.info, ...compareSides(oldFiles, newFiles), fetchedBlocks: blocks.fetched }
}

/** A target typed in `cwd` as a path relative to the project root (`/`-separated); the root itself: undefined (no filter). */
function targetPath (root: string, cwd: string, target: string): string | undefined {
  if (resolve(cwd, target) === root) return undefined
  return projectPath(root, cwd, target).rel.split(sep).join('/').replace(/\/+$/, '')
}

/** Every file of a revision's outs (but those in `skip`), listed from the store or peers. */
async function revisionFiles (blocks: ListingBlocks, side: Side, skip: Set<string>, within: (p: string) => boolean): Promise<Map<string, SideFile>> {
  const files = new Map<string, SideFile>()
  for (const o of side.outs) {
    if (skip.has(o.path)) continue
    const missing: MissingData = (rootCid: CID, absent: CID[]) => `the data of ${o.path} at ${side.info.rev} (${rootCid.toString()}, recorded in ${o.source}) is not on this machine and no connected peer gave its listing (${absent.length} block(s) missing, first ${absent[0].toString()}): run \`mlp fetch ${rootCid.toString()}\` while a teammate who holds it is online, or \`git checkout ${side.info.rev} && mlp pull\``
    for (const [rel, f] of await listTree(blocks, o.cid, o.size, missing)) {
      const path = rel === '' ? o.path : `${o.path}/${rel}`
      if (within(path) || within(o.path)) files.set(path, { ...f, out: o.path })
    }
  }
  return files
}

/** Every file of the workspace's outs (but those in `skip`), as hashed. */
function workspaceFiles (side: Side, skip: Set<string>, within: (p: string) => boolean): Map<string, SideFile> {
  const files = new Map<string, SideFile>()
  for (const [out, found] of side.workspace ?? []) {
    if (skip.has(out)) continue
    for (const [path, f] of found.files) if (within(path) || within(out)) files.set(path, f)
  }
  return files
}

/**
 * An out's files as they are on disk, hashed without storing (the stat
 * cache skips unchanged files), or undefined when it is absent. A path from
 * a committed file that leads through a symlink is not read: absent.
 */
async function onDisk (store: Store, root: string, o: RecordedOut, signal?: AbortSignal): Promise<{ cid: string, files: Map<string, SideFile> } | undefined> {
  const abs = join(root, o.path)
  if (!(await checkParents(root, abs, false)) || !existsSync(abs)) return undefined
  const ids = await workspaceIds(store, abs, signal)
  const files = new Map<string, SideFile>()
  for (const [rel, cid] of ids.files) {
    const st = await lstat(rel === '' ? abs : join(abs, rel))
    files.set(rel === '' ? o.path : posix.join(o.path, rel), { cid, size: st.isSymbolicLink() ? 0 : st.size, out: o.path })
  }
  return { cid: ids.cid, files }
}
