import { execFileSync } from 'node:child_process'
import { existsSync, lstatSync, readFileSync, realpathSync, statSync } from 'node:fs'
import { mkdir, writeFile } from 'node:fs/promises'
import { dirname, join, relative, resolve, sep, isAbsolute } from 'node:path'
import { AlreadyInitializedError, NotAGitRepoError, NotAProjectError, PathError } from '@mlp/proto'
import { ensureProjectId } from './project-id.js'

/** Folder that marks an mlp project, at the root of its git repository. */
export const PROJECT_DIR = '.mlp'

/**
 * The daemon's own home defaults to `~/.mlp`, the same name as the project
 * marker: a `.mlp` holding a daemon identity is a daemon home, not a project,
 * or every folder under `$HOME` would look like part of a project rooted there.
 */
function isDaemonHome (dir: string): boolean {
  return existsSync(join(dir, 'identity.key')) || existsSync(join(dir, 'api.sock'))
}

function findUp (start: string, marker: string): string | undefined {
  let dir = resolve(start)
  for (let i = 0; i < 256; i++) {
    if (existsSync(join(dir, marker))) return dir
    const parent = dirname(dir)
    if (parent === dir) return undefined
    dir = parent
  }
  return undefined
}

/** Every ancestor of `start` (itself first) holding a `.mlp` folder that is not a daemon home, nearest first. */
function markedAncestors (start: string): string[] {
  const out: string[] = []
  let dir = resolve(start)
  for (let i = 0; i < 256; i++) {
    const marker = join(dir, PROJECT_DIR)
    if (isDirectory(marker) && !isDaemonHome(marker)) out.push(dir)
    const parent = dirname(dir)
    if (parent === dir) break
    dir = parent
  }
  return out
}

function isDirectory (path: string): boolean {
  try {
    return statSync(path).isDirectory()
  } catch {
    return false
  }
}

function realOrSelf (path: string): string {
  try {
    return realpathSync(path)
  } catch {
    return path
  }
}

/** `git -C dir ...`'s stdout, or undefined when git fails there (not a repository, or no git). */
function gitOut (dir: string, args: string[]): string | undefined {
  try {
    return execFileSync('git', ['-C', dir, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], env: { ...process.env, GIT_OPTIONAL_LOCKS: '0' } })
  } catch {
    return undefined
  }
}

/**
 * True when `dir` is the top level of its git repository by its own `.git`:
 * a repository folder (with a `HEAD`), or the `gitdir:` file of a worktree
 * or submodule; what `git rev-parse --show-toplevel` would say, without
 * spawning git. False (so git is asked) when `GIT_DIR` or `GIT_WORK_TREE`
 * tell git to look elsewhere, or anything is unusual.
 */
export function ownsGitDir (dir: string, env: NodeJS.ProcessEnv = process.env): boolean {
  if (env.GIT_DIR != null || env.GIT_WORK_TREE != null) return false
  const dotGit = join(dir, '.git')
  try {
    const st = lstatSync(dotGit)
    if (st.isDirectory()) return lstatSync(join(dotGit, 'HEAD')).isFile()
    return st.isFile() && readFileSync(dotGit, 'utf8').startsWith('gitdir: ')
  } catch {
    return false
  }
}

/**
 * Why the `.mlp` folder in `dir` does not make `dir` a project root, or
 * undefined when it does. `outer` are the folders above it that hold a
 * `.mlp` too. A dataset pulled from a peer may carry a `.mlp/` of its own:
 * were that a project, the dataset's `dvc.yaml` would be its root pipeline
 * file and `mlp repro` in it would run the peer's commands. So `dir` is a
 * root only when
 * - no outer project tracks a folder holding it (or it) with a `.mlp` or
 *   `.dvc` pointer file: that folder is data whatever it holds, and
 * - inside a git repository, `dir` is the repository's top-level (where
 *   `mlp init` puts it) or git tracks `dir/.mlp/config.yaml` (a project
 *   committed in a subfolder of a monorepo): a `.mlp` git does not track
 *   below the top-level came from somewhere other than the repository.
 * Outside git nothing tells code from data but the pointer files.
 */
function notARootBecause (dir: string, outer: string[]): string | undefined {
  for (const o of outer) {
    const parts = relative(o, dir).split(sep)
    for (let i = 1; i <= parts.length; i++) {
      const a = parts.slice(0, i).join(sep)
      if (existsSync(join(o, `${a}.mlp`)) || existsSync(join(o, `${a}.dvc`))) return `${dir} is inside '${a}', data the project ${o} tracks with a pointer file`
    }
  }
  // the common case, told without running git (every command calls this)
  if (ownsGitDir(dir)) return undefined
  const top = gitOut(dir, ['rev-parse', '--show-toplevel'])?.trim()
  if (top == null || top === '') return undefined
  if (realOrSelf(top) === realOrSelf(dir)) return undefined
  const config = `${PROJECT_DIR}/config.yaml`
  const listed = gitOut(dir, ['ls-files', '-z', '--cached', '--', `:(literal)${config}`])
  if (listed?.split('\0').includes(config) === true) return undefined
  return `${dir}/${PROJECT_DIR}/config.yaml is not tracked by the git repository ${top}`
}

/**
 * The root of the mlp project containing `cwd`: the nearest folder above it
 * (or it) whose `.mlp` folder makes it a root (see {@link notARootBecause});
 * a `.mlp` that does not is passed over and the walk goes on upward.
 */
export function findProject (cwd: string): string {
  const marked = markedAncestors(cwd)
  let skipped: string | undefined
  for (let i = 0; i < marked.length; i++) {
    const why = notARootBecause(marked[i], marked.slice(i + 1))
    if (why == null) return marked[i]
    skipped ??= why
  }
  const hint = skipped == null ? '' : ` (${skipped}, so it is not a project root)`
  throw new NotAProjectError(`${cwd} is not inside an mlp project${hint}: run \`mlp init\` at the root of your git repository`)
}

/** Makes the git repository containing `cwd` an mlp project with a random project id (or adds the id to one without); returns its root. */
export async function initProject (cwd: string): Promise<string> {
  const root = findUp(cwd, '.git')
  if (root == null) throw new NotAGitRepoError(`${cwd} is not inside a git repository: run \`git init\` first`)
  if (existsSync(join(root, PROJECT_DIR))) {
    // a project from before project ids gets one (what experiments are matched by); otherwise nothing to do.
    // Never in a daemon's home (`~/.mlp` at the top of a home-directory repository): its config.yaml is the daemon's
    if (!isDaemonHome(join(root, PROJECT_DIR)) && await ensureProjectId(root)) return root
    throw new AlreadyInitializedError(`${root} is already an mlp project (${PROJECT_DIR}/ exists)`)
  }
  await mkdir(join(root, PROJECT_DIR))
  await writeFile(join(root, PROJECT_DIR, '.gitignore'), '/tmp/\n')
  await writeFile(join(root, PROJECT_DIR, 'config.yaml'), '# project settings for mlp (committed to git)\n')
  await ensureProjectId(root)
  return root
}

/**
 * Resolves a user path against `cwd` and checks it may be tracked: inside the
 * project, not the project root, not inside `.git` or `.mlp`.
 */
export function projectPath (root: string, cwd: string, path: string): { abs: string, rel: string } {
  const abs = resolve(cwd, path)
  const rel = relative(root, abs)
  if (rel === '') throw new PathError(`${path} is the project root: add the files or directories inside it`)
  if (rel.startsWith('..') || isAbsolute(rel)) throw new PathError(`${path} is outside the project ${root}`)
  const first = rel.split(sep)[0]
  if (first === '.git' || first === PROJECT_DIR) throw new PathError(`${path} is inside ${first}/, which mlp does not track`)
  return { abs, rel }
}
