import { execFileSync } from 'node:child_process'
import { existsSync, lstatSync, realpathSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { PipelineError } from './errors.js'

/** Names of pipeline files, in the order one folder's is chosen: mlp.yaml wins over dvc.yaml (they would share one mlp.lock). */
export const PIPELINE_NAMES = ['mlp.yaml', 'dvc.yaml']

/** Most pipeline files one project may have: each is read on every `status`. */
export const MAX_PIPELINE_FILES = 1000

/** Proper ancestors of a `/`-separated relative path: `a`, `a/b` for `a/b/c`. */
export function ancestorsOf (path: string): string[] {
  const out: string[] = []
  for (let i = path.indexOf('/'); i !== -1; i = path.indexOf('/', i + 1)) out.push(path.slice(0, i))
  return out
}

/**
 * The pipeline files git knows below `root` (tracked or staged), relative
 * to it with `/`; undefined when `root` is not in a git repository (or git
 * cannot be run). Untracked and ignored files are never listed: a folder
 * pulled from a peer, or written by a stage, is not code.
 */
function gitListed (root: string): string[] | undefined {
  const key = indexKey(root)
  const hit = key != null ? listedCache.get(root) : undefined
  if (hit != null && hit.key === key) return hit.files
  const files = gitListedNow(root)
  if (key != null && files != null) {
    listedCache.delete(root)
    listedCache.set(root, { key, files })
    if (listedCache.size > LISTED_CACHE_ROOTS) listedCache.delete(listedCache.keys().next().value as string)
  }
  return files
}

/** Projects whose last {@link gitListed} answer is kept. */
const LISTED_CACHE_ROOTS = 64

/** Per project root: the git index it was read from ({@link indexKey}) and what `git ls-files` listed. */
const listedCache = new Map<string, { key: string, files: string[] }>()

/**
 * What identifies the git index of the repository whose top level is
 * `root`: its inode, size and nanosecond mtime; undefined (so git is asked)
 * when `root` does not hold its own `.git` folder and index, or the
 * environment points git elsewhere. Git never edits the index in place: it
 * writes `index.lock` and renames it over, so every change gives a new inode;
 * a repository that has no index yet lists nothing.
 * Spawning git was a tenth of a `mlp status` of 10,000 files, run on every
 * status though the index rarely changes between two.
 */
function indexKey (root: string): string | undefined {
  if (process.env.GIT_DIR != null || process.env.GIT_WORK_TREE != null || process.env.GIT_INDEX_FILE != null) return undefined
  try {
    if (!lstatSync(join(root, '.git')).isDirectory()) return undefined
    const st = lstatSync(join(root, '.git', 'index'), { bigint: true, throwIfNoEntry: false })
    // no index yet (nothing ever staged): git lists nothing until one is written
    if (st == null) return lstatSync(join(root, '.git', 'HEAD')).isFile() ? 'none' : undefined
    return st.isFile() ? `${st.dev}:${st.ino}:${st.size}:${st.mtimeNs}:${st.ctimeNs}` : undefined
  } catch {
    return undefined
  }
}

function gitListedNow (root: string): string[] | undefined {
  let stdout: string
  try {
    stdout = execFileSync('git', ['-C', root, 'ls-files', '-z', '--cached', '--', ...PIPELINE_NAMES.map((n) => `:(glob)**/${n}`)], {
      encoding: 'utf8',
      maxBuffer: 64 * 1024 * 1024,
      stdio: ['ignore', 'pipe', 'ignore'],
      env: { ...process.env, GIT_OPTIONAL_LOCKS: '0' }
    })
  } catch {
    return undefined
  }
  return [...new Set(stdout.split('\0').filter((f) => f !== ''))]
}

/**
 * Why the pipeline file at `rel` (relative to `root`, `/`-separated) must not
 * be read, or undefined: it is a symlink, or a folder on its way from `root`
 * is one. Git tracks symlinks as symlinks, so a tracked `dvc.yaml` (or a
 * tracked folder replaced by a link in the workspace) could lead into a
 * dataset pulled from a peer, and its stages would run as code. Only a
 * regular file reached through real folders is read.
 */
export function symlinkProblem (root: string, rel: string): string | undefined {
  const file = join(root, rel)
  let st
  try {
    st = lstatSync(file)
  } catch {
    return undefined
  }
  if (st.isSymbolicLink()) return `${file} is a symlink; mlp reads only a regular file as a pipeline file`
  if (!st.isFile()) return `${file} is not a regular file`
  const folder = dirname(rel)
  if (folder === '.') return undefined
  try {
    if (realpathSync(join(root, folder)) === join(realpathSync(root), folder)) return undefined
  } catch {}
  return `${file} lies in a folder reached through a symlink ('${folder}'); mlp reads pipeline files only in the project's real folders`
}

/**
 * Candidate pipeline files of the project at `root`, relative to it, the
 * root's first, then shallower folders before deeper ones. The root's file
 * is always a candidate (tracked or not: a new project's pipeline is not
 * committed yet); other folders' files only when git tracks or stages them.
 * Outside a git repository only the root's file is read: nothing then tells
 * code from data. One file per folder: mlp.yaml, else dvc.yaml. The caller
 * still drops those inside outs ({@link insideOuts}). A symlinked file, or
 * one in a symlinked folder, is a {@link PipelineError} ({@link symlinkProblem})
 * unless it lies in a pointer-tracked folder, which is never read anyway;
 * with `skipSymlinks` it is left out instead (gc must not stop for it).
 */
export function candidateFiles (root: string, skipSymlinks = false): string[] {
  // lstat: a dangling symlink is still the root's file, and is refused below
  const rootFile = PIPELINE_NAMES.find((n) => lexists(join(root, n)))
  const listed = gitListed(root) ?? []
  const byFolder = new Map<string, string>()
  for (const f of listed) {
    const slash = f.lastIndexOf('/')
    if (slash < 0) continue
    const folder = f.slice(0, slash)
    const name = f.slice(slash + 1)
    // a tracked file deleted from the workspace is not read
    if (!lexists(join(root, f))) continue
    const prev = byFolder.get(folder)
    if (prev == null || PIPELINE_NAMES.indexOf(name) < PIPELINE_NAMES.indexOf(prev.slice(slash + 1))) byFolder.set(folder, f)
  }
  const subs = [...byFolder.values()].sort((a, b) => depth(a) - depth(b) || (a < b ? -1 : a > b ? 1 : 0))
  if (subs.length + 1 > MAX_PIPELINE_FILES) throw new PipelineError(`${root}: git tracks ${subs.length + 1} pipeline files; mlp reads at most ${MAX_PIPELINE_FILES}`)
  const all = [...(rootFile == null ? [] : [rootFile]), ...subs]
  return all.filter((rel) => {
    const problem = symlinkProblem(root, rel)
    if (problem == null) return true
    if (skipSymlinks || (rel.includes('/') && insideOuts(root, rel, new Set()) != null)) return false
    throw new PipelineError(problem)
  })
}

/** Whether something (a symlink too, dangling or not) is at `path`. */
function lexists (path: string): boolean {
  try {
    lstatSync(path)
    return true
  } catch {
    return false
  }
}

function depth (path: string): number {
  return path.split('/').length
}

/**
 * Why a pipeline file at `rel` must not be read, or undefined: it lies in
 * (or is) an out of a stage read so far (`outs`: project-relative paths), or
 * in a folder a `.mlp` or `.dvc` pointer file tracks. Such a file is data
 * that came from a run or a peer, whatever git says of it.
 */
export function insideOuts (root: string, rel: string, outs: Set<string>): string | undefined {
  for (const a of [...ancestorsOf(rel), rel]) {
    if (outs.has(a)) return `it is inside the out '${a}'`
    if (a !== rel && (existsSync(join(root, `${a}.mlp`)) || existsSync(join(root, `${a}.dvc`)))) return `'${a}' is tracked by a pointer file`
  }
  return undefined
}

/**
 * The lock files (`mlp.lock` beside each candidate pipeline file) that
 * exist, absolute, the root's first: what gc reads for the workspace's
 * stage outs. Nothing is parsed, and files in outs are not dropped: for gc,
 * keeping a root too many is safe, and an invalid pipeline file must not
 * stop it.
 */
export function candidateLockFiles (root: string): string[] {
  return [...new Set(candidateFiles(root, true).map((f) => join(root, dirname(f), 'mlp.lock')))].filter((f) => existsSync(f))
}

/**
 * Whether git tracks (or has staged) the file at `rel` in the repository
 * holding `root`; undefined outside a git repository. A pipeline file in a
 * subfolder is read only once it does ({@link candidateFiles}).
 */
export function gitTracks (root: string, rel: string): boolean | undefined {
  try {
    const stdout = execFileSync('git', ['-C', root, 'ls-files', '-z', '--cached', '--', `:(literal)${rel}`], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
      env: { ...process.env, GIT_OPTIONAL_LOCKS: '0' }
    })
    return stdout.split('\0').includes(rel)
  } catch {
    return undefined
  }
}
