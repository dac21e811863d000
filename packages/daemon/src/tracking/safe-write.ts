import type { Stats } from 'node:fs'
import { lstat, mkdir, mkdtemp, rename, rm } from 'node:fs/promises'
import { basename, dirname, isAbsolute, join, relative, sep } from 'node:path'
import { PathError, UnsafePathError } from '@mlp/proto'
import type { CID } from 'multiformats/cid'
import type { Exporter, TreeItem } from '../store/exporter.js'
import { symlinkNameProblem } from '../store/path-rules.js'
import { mapDiskError } from '../store/disk-errors.js'
import { DiskFloor } from '../store/disk-floor.js'

/**
 * The one writer every DAG-to-files path uses (fetch -o, checkout, pull,
 * job inputs, restored run outs). What makes it safe:
 * - names were checked when each directory node was decoded (store/path-rules.ts);
 * - it never writes through a symlink: every directory between the root the
 *   caller trusts and the destination is lstat'ed, and made one level at a
 *   time when missing; files are created with `wx` beside their target and
 *   renamed over it, which replaces a symlink there instead of following it;
 *   symlinks in the DAG are written as links and never entered;
 * - a new destination is extracted into a fresh temporary directory beside
 *   it and renamed into place, so a failure leaves nothing behind;
 * - it removes only what lies inside the destination.
 */

/** What a write did; `skipped` are absolute paths kept because they hold unknown content. */
export interface TreeWriteResult {
  written: number
  unchanged: number
  skipped: string[]
}

/** Options of {@link writeTreeInPlace}. */
export interface TreeWriteOptions {
  signal?: AbortSignal
  /** Replace files and directories whose content is unknown instead of keeping them. */
  force?: boolean
  /** Ids of the files already at the destination by relative path ('' for a single file): equal ones are left alone. */
  existing?: ReadonlyMap<string, string>
  /** Called after each file or symlink is written (checkout feeds its stat cache). */
  onWritten?: (item: TreeItem, dest: string) => Promise<void> | void
  /** Keeps free disk space and inodes while writing; one is made for `dest` when absent. */
  floor?: DiskFloor
}

async function lstatOrNull (path: string): Promise<Stats | null> {
  try {
    return await lstat(path)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null
    throw err
  }
}

/** `path` relative to `root`, or an error when it is `root` itself or lies outside it. */
function inside (root: string, path: string): string {
  const rel = relative(root, path)
  if (rel === '' || rel === '..' || rel.startsWith(`..${sep}`) || isAbsolute(rel)) throw new UnsafePathError(`${path} is not inside ${root}: refused`)
  return rel
}

/**
 * Checks that every directory between `root` (trusted, not checked) and
 * `path`'s parent is a real directory, not a symlink: so nothing written at
 * `path` lands outside `root`. Missing ones are made one level at a time when
 * `create`; otherwise a missing one ends the check (there is nothing below it).
 * Returns whether the whole parent chain exists.
 */
export async function checkParents (root: string, path: string, create: boolean): Promise<boolean> {
  const parts = inside(root, path).split(sep).slice(0, -1)
  let at = root
  for (const part of parts) {
    at = join(at, part)
    const st = await lstatOrNull(at)
    if (st == null) {
      if (!create) return false
      await mkdir(at)
    } else if (st.isSymbolicLink()) {
      throw new UnsafePathError(`${at} is a symlink: refusing to write through it to ${path}`)
    } else if (!st.isDirectory()) {
      throw new UnsafePathError(`${at} is not a directory: cannot write ${path}`)
    }
  }
  return true
}

/** Removes `path` (a tree, a file or a symlink itself) after checking no parent between `root` and it is a symlink. */
export async function removeInside (root: string, path: string): Promise<void> {
  if (await checkParents(root, path, false)) await rm(path, { recursive: true, force: true })
}

/**
 * Makes `path` a real directory; `st` is its lstat. Something else there (a
 * file, a symlink) is replaced only when `force` - a symlink by unlinking the
 * link itself. False when it was kept.
 */
async function placeDir (path: string, st: Stats | null, force: boolean): Promise<boolean> {
  if (st?.isDirectory() === true) return true
  if (st != null) {
    if (!force) return false
    await rm(path)
  }
  await mkdir(path)
  return true
}

/**
 * Writes the DAG `cid` at `dest` inside `root`, in place: directories are
 * made or kept, files whose id `existing` already gives are left alone, and
 * files or directories with unknown content are kept (reported in `skipped`,
 * with everything below them) unless `force`.
 */
export async function writeTreeInPlace (exporter: Exporter, cid: CID, root: string, dest: string, options: TreeWriteOptions = {}): Promise<TreeWriteResult> {
  const result: TreeWriteResult = { written: 0, unchanged: 0, skipped: [] }
  await checkParents(root, dest, true)
  // a directory DAG of a few blocks can name millions of entries (the same subtree under many names)
  const floor = options.floor ?? new DiskFloor(dirname(dest), relative(root, dest) === '' ? dest : relative(root, dest), 'writing')
  // a skipped directory: the walk is depth first, so all below it come next, in one run
  let blocked: string | undefined
  for await (const item of exporter.walk(cid)) {
    options.signal?.throwIfAborted()
    if (blocked != null && item.path.startsWith(`${blocked}/`)) continue
    blocked = undefined
    const path = item.path === '' ? dest : join(dest, item.path)
    const have = options.existing?.get(item.path)
    if (item.kind !== 'dir' && have === item.cid.toString()) {
      // the common case of a repeated checkout: known right, not even lstat'ed
      result.unchanged++
      continue
    }
    await floor.reserve(0, 1)
    const st = await lstatOrNull(path)
    if (item.kind === 'dir') {
      if (await placeDir(path, st, options.force === true)) continue
      // a file or a symlink where the DAG has a directory: kept, and nothing written below it
      result.skipped.push(path)
      // the destination itself: nothing of the DAG can go anywhere
      if (item.path === '') break
      blocked = item.path
      continue
    }
    const problem = item.kind === 'symlink' ? symlinkNameProblem(basename(path)) : undefined
    if (problem != null) throw new UnsafePathError(`${cid.toString()} holds ${problem}: refused`)
    if (st != null && options.force !== true && (have != null || st.isDirectory())) {
      result.skipped.push(path)
      continue
    }
    await exporter.writeFile(item.cid, path, options.signal, floor)
    result.written++
    await options.onWritten?.(item, path)
  }
  return result
}

/** Options of {@link writeTreeNew}. */
export interface NewTreeOptions {
  signal?: AbortSignal
  /** A directory the caller trusts that holds `dest`: no symlink between them is followed. Absent: the user named `dest`, its parents are made as given. */
  root?: string
}

/**
 * Writes the DAG `cid` to `dest`, which must not exist: extracted into a
 * fresh temporary directory beside `dest` (same filesystem), then renamed
 * into place. On any failure the temporary directory goes and `dest` stays
 * absent.
 */
export async function writeTreeNew (exporter: Exporter, cid: CID, dest: string, options: NewTreeOptions = {}): Promise<TreeWriteResult> {
  if (options.root != null) await checkParents(options.root, dest, true)
  else await mkdir(dirname(dest), { recursive: true })
  const exists = async (): Promise<void> => {
    if ((await lstatOrNull(dest)) != null) throw new PathError(`${dest} already exists: choose a new path`)
  }
  await exists()
  let tmp: string
  try {
    tmp = await mkdtemp(join(dirname(dest), `.${basename(dest)}.mlp-`))
  } catch (err) {
    throw mapDiskError(err, dest)
  }
  try {
    const result = await writeTreeInPlace(exporter, cid, tmp, join(tmp, 'out'), { signal: options.signal })
    await exists()
    await rename(join(tmp, 'out'), dest)
    return result
  } finally {
    await rm(tmp, { recursive: true, force: true })
  }
}
