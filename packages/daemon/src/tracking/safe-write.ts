import { constants, lstatSync, type Stats } from 'node:fs'
import { lstat, mkdir, mkdtemp, open, rename, rm, rmdir } from 'node:fs/promises'
import { basename, dirname, isAbsolute, join, relative, sep } from 'node:path'
import { PathError, UnsafePathError } from '@mlp/proto'
import type { CID } from 'multiformats/cid'
import { EXECUTABLE_MODE } from '../store/dag.js'
import { RAW_CODEC } from '../store/constants.js'
import { WRITE_BATCH_BYTES, type Exporter, type TreeItem } from '../store/exporter.js'
import { symlinkNameProblem } from '../store/path-rules.js'
import { mapDiskError } from '../store/disk-errors.js'
import { DiskFloor } from '../store/disk-floor.js'
import { BoundedTasks } from '../store/bounded-tasks.js'

/** Files written out at once by one tree write. */
const WRITE_CONCURRENCY = 16
/**
 * Bytes the files written at once may hold in memory together: a file
 * holds up to {@link WRITE_BATCH_BYTES} of its blocks before each write, so
 * big files go two at a time and small ones sixteen.
 */
const WRITE_BUDGET_BYTES = 16 * 1024 * 1024
/** One-block files read and written per batch (see {@link Exporter.writeSmallFileSync}). */
const SMALL_BATCH_FILES = 64
/** Bytes of one-block files per batch, at most (plus one file). */
const SMALL_BATCH_BYTES = 4 * 1024 * 1024

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
  /** Files removed because the DAG no longer lists them (only with `prune`). */
  removed?: number
}

/** Options of {@link writeTreeInPlace}. */
export interface TreeWriteOptions {
  signal?: AbortSignal
  /** Replace files and directories whose content is unknown instead of keeping them. */
  force?: boolean
  /** Ids of the files already at the destination by relative path ('' for a single file): equal ones are left alone. */
  existing?: ReadonlyMap<string, string>
  /**
   * Whether the store holds content of this id: an `existing` file whose id
   * it knows is a version mlp wrote or stored, replaced (or pruned) without
   * `force`; one it does not know is a local edit, kept. Absent: none known.
   */
  known?: (cid: string) => Promise<boolean>
  /** Also remove `existing` files the DAG no longer lists (known ones, or all with `force`), and directories that leaves empty. */
  prune?: boolean
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

function lstatOrNullSync (path: string): Stats | null {
  try {
    return lstatSync(path)
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
  const force = options.force === true
  const replaceable = async (id: string | undefined): Promise<boolean> => force || (id != null && options.known != null && await options.known(id))
  // every path the DAG lists, for prune: a directory node is one string per entry, as `existing` is
  const listed = options.prune === true ? new Map<string, TreeItem['kind']>() : undefined
  await checkParents(root, dest, true)
  // a directory DAG of a few blocks can name millions of entries (the same subtree under many names)
  const floor = options.floor ?? new DiskFloor(dirname(dest), relative(root, dest) === '' ? dest : relative(root, dest), 'writing')
  // a skipped directory: the walk is depth first, so all below it come next, in one run
  let blocked: string | undefined
  // directories are placed here, in walk order, before anything below them;
  // files and symlinks are written several at a time (each is a handful of
  // thread-pool round trips that, one file after another, left the daemon idle)
  const files = new BoundedTasks(WRITE_CONCURRENCY, WRITE_BUDGET_BYTES)
  // what was kept, by position in the walk: files finish out of order, the report is in walk order
  const kept: Array<[number, string]> = []
  // one-block files, read together and written with synchronous calls, a batch at a time
  let small: Array<{ item: TreeItem, path: string, have?: string, at: number }> = []
  let smallBytes = 0
  const flushSmall = async (): Promise<void> => {
    const batch = small
    small = []
    smallBytes = 0
    let i = 0
    for await (const bytes of exporter.rawFiles(batch.map((b) => b.item.cid))) {
      // a file that failed elsewhere stops the writing here too, as it did one file at a time
      options.signal?.throwIfAborted()
      files.throwIfFailed()
      const { item, path, have, at } = batch[i++]
      await writeOne(item, path, have, at, bytes)
    }
  }
  let at = 0
  try {
    for await (const item of exporter.walk(cid)) {
      options.signal?.throwIfAborted()
      files.throwIfFailed()
      at++
      if (blocked != null && item.path.startsWith(`${blocked}/`)) continue
      blocked = undefined
      listed?.set(item.path, item.kind)
      const path = item.path === '' ? dest : join(dest, item.path)
      const have = options.existing?.get(item.path)
      if (item.kind !== 'dir' && have === item.cid.toString()) {
        // the common case of a repeated checkout: known right, not even lstat'ed
        result.unchanged++
        continue
      }
      const problem = item.kind === 'symlink' ? symlinkNameProblem(basename(path)) : undefined
      if (problem != null) throw new UnsafePathError(`${cid.toString()} holds ${problem}: refused`)
      if (item.kind === 'file' && item.cid.code === RAW_CODEC) {
        small.push({ item, path, have, at })
        smallBytes += item.tsize
        if (small.length >= SMALL_BATCH_FILES || smallBytes >= SMALL_BATCH_BYTES) await flushSmall()
        continue
      }
      if (item.kind !== 'dir') {
        const position = at
        await files.run(async () => { await writeOne(item, path, have, position) }, Math.min(item.tsize, WRITE_BATCH_BYTES))
        continue
      }
      await floor.reserve(0, 1)
      const st = await lstatOrNull(path)
      if (await placeDir(path, st, st != null && !st.isDirectory() && await replaceable(have))) continue
      // a file or a symlink where the DAG has a directory: kept, and nothing written below it
      kept.push([at, path])
      // the destination itself: nothing of the DAG can go anywhere
      if (item.path === '') break
      blocked = item.path
    }
    await flushSmall()
    await files.drain()
  } finally {
    // nothing may still be writing once this returns or throws (the caller may remove the tree)
    await files.settle()
  }
  result.skipped = kept.sort((a, b) => a[0] - b[0]).map(([, path]) => path)
  if (listed != null) result.removed = await prune(root, dest, listed, result, options.existing, replaceable)
  return result

  /**
   * One file or symlink of the walk: written unless what is there must be
   * kept. With `bytes` (a one-block file's, verified) the checks and the
   * write are synchronous calls.
   */
  async function writeOne (item: TreeItem, path: string, have: string | undefined, position: number, bytes?: Uint8Array): Promise<void> {
    await floor.reserve(bytes?.length ?? 0, 1)
    const st = bytes != null ? lstatOrNullSync(path) : await lstatOrNull(path)
    if (st != null && !force && (st.isDirectory() ? !(await knownBelow(item.path, options.existing, replaceable)) : have != null && !(await replaceable(have)))) {
      // a DAG laid out as mlp's importer would not (another tool's, a hand-made one) rehashes to another id: same bytes are no edit
      if (options.known != null && item.kind === 'file' && st.isFile() && await sameBytes(exporter, item.cid, path, st, options.signal)) {
        result.unchanged++
        return
      }
      kept.push([position, path])
      return
    }
    // a directory of known files where the DAG now has a file: its files are versions the store holds
    if (st?.isDirectory() === true) await removeInside(root, path)
    if (bytes != null) exporter.writeSmallFileSync(bytes, path)
    else await exporter.writeFile(item.cid, path, options.signal, floor)
    result.written++
    await options.onWritten?.(item, path)
  }
}

/**
 * True when the regular file at `path` holds exactly the bytes (and the
 * executable bit) of the file DAG `cid`; read side by side, after a size
 * check that settles most real edits at once.
 */
async function sameBytes (exporter: Exporter, cid: CID, path: string, st: Stats, signal?: AbortSignal): Promise<boolean> {
  const want = await exporter.describe(cid)
  if (want.kind !== 'file' || want.size !== st.size || ((st.mode & 0o111) !== 0) !== (want.mode === EXECUTABLE_MODE)) return false
  // O_NOFOLLOW, O_NONBLOCK: a symlink or FIFO swapped in since the lstat is neither followed nor waited on
  const fh = await open(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK)
  try {
    if (!(await fh.stat()).isFile()) return false
    let pos = 0
    for await (const chunk of exporter.file(cid, signal)) {
      const buf = Buffer.alloc(chunk.length)
      const { bytesRead } = await fh.read(buf, 0, chunk.length, pos)
      if (bytesRead !== chunk.length || !buf.equals(chunk)) return false
      pos += chunk.length
    }
    return pos === st.size
  } finally {
    await fh.close()
  }
}

/** True when the DAG has a file or symlink at one of `path`'s ancestors: the directory that held it was replaced whole. */
function underFile (path: string, listed: ReadonlyMap<string, TreeItem['kind']>): boolean {
  // the destination itself ('') is every path's ancestor
  const top = listed.get('')
  if (path !== '' && top != null && top !== 'dir') return true
  for (let i = path.indexOf('/'); i !== -1; i = path.indexOf('/', i + 1)) {
    const kind = listed.get(path.slice(0, i))
    if (kind != null && kind !== 'dir') return true
  }
  return false
}

/** True when every file `existing` lists below directory `rel` may be replaced (an empty one too). */
async function knownBelow (rel: string, existing: ReadonlyMap<string, string> | undefined, replaceable: (id: string) => Promise<boolean>): Promise<boolean> {
  if (existing == null) return false
  const prefix = rel === '' ? '' : `${rel}/`
  for (const [path, id] of existing) {
    if (path.startsWith(prefix) && !(await replaceable(id))) return false
  }
  return true
}

/**
 * Removes the `existing` files the DAG does not list when `replaceable` (the
 * rest are local edits: added to `skipped`), then the directories that
 * leaves empty and the DAG does not list. Nothing below a path already kept
 * is touched. Returns how many files went.
 */
async function prune (root: string, dest: string, listed: ReadonlyMap<string, TreeItem['kind']>, result: TreeWriteResult, existing: ReadonlyMap<string, string> | undefined, replaceable: (id: string) => Promise<boolean>): Promise<number> {
  const kept = result.skipped.map((p) => `${relative(dest, p)}/`)
  const dirs = new Set<string>()
  let removed = 0
  for (const [path, id] of existing ?? []) {
    if (listed.has(path) || kept.some((k) => k === '/' || path.startsWith(k)) || underFile(path, listed)) continue
    const abs = join(dest, path)
    if (!(await replaceable(id))) {
      result.skipped.push(abs)
      continue
    }
    await removeInside(root, abs)
    removed++
    for (let i = path.lastIndexOf('/'); i > 0; i = path.lastIndexOf('/', i - 1)) dirs.add(path.slice(0, i))
  }
  // deepest first, so a parent is tried once its children are gone
  for (const dir of [...dirs].filter((d) => !listed.has(d) && !underFile(d, listed)).sort((a, b) => b.length - a.length)) {
    const abs = join(dest, dir)
    if (!(await checkParents(root, abs, false))) continue
    try {
      await rmdir(abs)
    } catch (err) {
      // still holds something (a kept edit, a file mlp never saw): it stays
      if (!['ENOTEMPTY', 'EEXIST', 'ENOENT', 'ENOTDIR'].includes((err as NodeJS.ErrnoException).code ?? '')) throw err
    }
  }
  return removed
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
