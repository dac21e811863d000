import { execFile } from 'node:child_process'
import { ExpError } from '@mlp/proto'
import { MAX_PATCH_BYTES } from './constants.js'

/** Options of {@link git}. */
interface GitOptions {
  input?: Buffer | string
  env?: NodeJS.ProcessEnv
}

/** Runs git in `root`; rejects with git's own first line of stderr. Hooks and optional locks off: nothing here should run project code. */
export async function git (root: string, args: string[], options: GitOptions = {}): Promise<Buffer> {
  return await new Promise((resolve, reject) => {
    const child = execFile('git', ['-C', root, '-c', 'core.hooksPath=/dev/null', ...args], {
      encoding: 'buffer',
      maxBuffer: MAX_PATCH_BYTES + 1024 * 1024,
      env: { ...process.env, GIT_OPTIONAL_LOCKS: '0', GIT_TERMINAL_PROMPT: '0', ...options.env }
    }, (err, stdout, stderr) => {
      if (err == null) return resolve(stdout)
      const line = stderr.toString('utf8').split('\n').find((l) => l.trim() !== '') ?? err.message
      reject(new ExpError(`git ${args[0]}: ${line.trim()}`, { cause: err }))
    })
    if (options.input != null) child.stdin?.end(options.input)
  })
}

/** The commit HEAD names; a repository with no commit yet gets an error saying to make one. */
export async function headCommit (root: string): Promise<string> {
  try {
    return (await git(root, ['rev-parse', '--verify', 'HEAD^{commit}'])).toString('utf8').trim()
  } catch (err) {
    throw new ExpError(`${root} has no commit yet: an experiment starts from one (git add and git commit first)`, { cause: err })
  }
}

/** Whether `commit` is in this repository (a teammate's base may not be fetched yet). */
export async function hasCommit (root: string, commit: string): Promise<boolean> {
  try {
    await git(root, ['cat-file', '-e', `${commit}^{commit}`])
    return true
  } catch {
    return false
  }
}

/**
 * The uncommitted changes to git-tracked files against `base`, as a binary
 * patch `git apply` takes back (code edits as DVC's exp keeps them).
 * Untracked files are not experiment changes: git does not know them.
 */
export async function trackedChanges (root: string, base: string): Promise<Buffer> {
  const patch = await git(root, ['diff', '--binary', '--no-color', '--no-ext-diff', base, '--'])
  if (patch.length > MAX_PATCH_BYTES) throw new ExpError(`the uncommitted changes are ${patch.length} bytes of patch, over the ${MAX_PATCH_BYTES}-byte limit of an experiment: commit the large changes first`)
  return patch
}

/** Paths of tracked files with uncommitted changes (staged or not). */
export async function dirtyTracked (root: string): Promise<string[]> {
  const out = (await git(root, ['status', '--porcelain=v1', '-z', '--untracked-files=no'])).toString('utf8')
  return out.split('\0').filter((e) => e.length > 3).map((e) => e.slice(3))
}

/** Paths a patch touches, as git reads it. */
export async function patchPaths (root: string, patch: Buffer): Promise<string[]> {
  if (patch.length === 0) return []
  const out = (await git(root, ['apply', '--numstat', '-z', '-'], { input: patch })).toString('utf8')
  // -z numstat: "added\tdeleted\tpath\0", a rename "added\tdeleted\t\0old\0new\0"
  const paths: string[] = []
  const parts = out.split('\0')
  for (let i = 0; i < parts.length; i++) {
    const cols = parts[i].split('\t')
    if (cols.length < 3) continue
    if (cols[2] !== '') paths.push(cols[2])
    else { paths.push(parts[i + 1], parts[i + 2]); i += 2 }
  }
  return paths.filter((p) => p != null && p !== '')
}

/**
 * The blob ids `paths` have at `base` with `patch` applied (undefined: the
 * patch deletes it or it is absent), worked out in a temporary index: the
 * user's index and files are not touched.
 */
export async function patchedBlobs (root: string, base: string, patch: Buffer, paths: string[], tmpIndex: string): Promise<Map<string, string | undefined>> {
  const env = { GIT_INDEX_FILE: tmpIndex }
  await git(root, ['read-tree', base], { env })
  await git(root, ['apply', '--cached', '-'], { input: patch, env })
  const listed = (await git(root, ['ls-files', '-s', '-z', '--', ...paths.map((p) => `:(literal)${p}`)], { env })).toString('utf8')
  const blobs = new Map<string, string | undefined>(paths.map((p) => [p, undefined]))
  for (const entry of listed.split('\0').filter((e) => e !== '')) {
    const tab = entry.indexOf('\t')
    blobs.set(entry.slice(tab + 1), entry.slice(0, tab).split(' ')[1])
  }
  return blobs
}

/** git's file type bits of an index mode, and the type of a symlink (a mode of 120000, or any 12xxxx, is one to git). */
const S_IFMT = 0o170000
const S_IFLNK = 0o120000

/**
 * The paths `patch`, applied to `base`, leaves as symlinks (created, or
 * retargeted, or a file turned into one), as git itself reads the patch:
 * it is applied in a temporary index, the workspace and the user's index
 * untouched. An experiment is code and params edits and never needs a
 * symlink, while a teammate's symlink would let a later write by mlp (the
 * lock, the outs) land outside the project, so callers refuse any.
 */
export async function patchSymlinks (root: string, base: string, patch: Buffer, tmpIndex: string): Promise<string[]> {
  const paths = await patchPaths(root, patch)
  if (paths.length === 0) return []
  const env = { GIT_INDEX_FILE: tmpIndex }
  await git(root, ['read-tree', base], { env })
  await git(root, ['apply', '--cached', '-'], { input: patch, env })
  const listed = (await git(root, ['ls-files', '-s', '-z', '--', ...paths.map((p) => `:(literal)${p}`)], { env })).toString('utf8')
  const links: string[] = []
  for (const entry of listed.split('\0').filter((e) => e !== '')) {
    const tab = entry.indexOf('\t')
    const mode = Number.parseInt(entry.slice(0, tab).split(' ')[0], 8)
    if ((mode & S_IFMT) === S_IFLNK) links.push(entry.slice(tab + 1))
  }
  return links
}

/** The blob id git would give the workspace file `path`, or undefined when it is missing. */
export async function workspaceBlob (root: string, path: string): Promise<string | undefined> {
  try {
    return (await git(root, ['hash-object', '--', path])).toString('utf8').trim()
  } catch {
    return undefined
  }
}
