import { existsSync, statSync } from 'node:fs'
import { mkdir, writeFile } from 'node:fs/promises'
import { dirname, join, relative, resolve, sep, isAbsolute } from 'node:path'
import { AlreadyInitializedError, NotAGitRepoError, NotAProjectError, PathError } from '@mlp/proto'

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
    if (existsSync(join(dir, marker)) && !(marker === PROJECT_DIR && isDaemonHome(join(dir, marker)))) return dir
    const parent = dirname(dir)
    if (parent === dir) return undefined
    dir = parent
  }
  return undefined
}

/** The root of the mlp project containing `cwd`. */
export function findProject (cwd: string): string {
  const root = findUp(cwd, PROJECT_DIR)
  if (root == null || !statSync(join(root, PROJECT_DIR)).isDirectory()) {
    throw new NotAProjectError(`${cwd} is not inside an mlp project: run \`mlp init\` at the root of your git repository`)
  }
  return root
}

/** Makes the git repository containing `cwd` an mlp project; returns its root. */
export async function initProject (cwd: string): Promise<string> {
  const root = findUp(cwd, '.git')
  if (root == null) throw new NotAGitRepoError(`${cwd} is not inside a git repository: run \`git init\` first`)
  if (existsSync(join(root, PROJECT_DIR))) throw new AlreadyInitializedError(`${root} is already an mlp project (${PROJECT_DIR}/ exists)`)
  await mkdir(join(root, PROJECT_DIR))
  await writeFile(join(root, PROJECT_DIR, '.gitignore'), '/tmp/\n')
  await writeFile(join(root, PROJECT_DIR, 'config.yaml'), '# project settings for mlp (committed to git)\n')
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
