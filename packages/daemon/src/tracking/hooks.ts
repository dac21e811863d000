import { execFile } from 'node:child_process'
import { chmod, mkdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises'
import { isAbsolute, join, resolve } from 'node:path'
import { promisify } from 'node:util'
import { HookExistsError, NotAGitRepoError, type InstalledHook } from '@mlp/proto'

const run = promisify(execFile)

/** First line after the shebang of every hook mlp writes: how a later `mlp install` knows its own. */
export const HOOK_MARKER = '# installed by `mlp install`: keeps tracked data in step with git'

/**
 * The hooks, as `dvc install` writes them: after git changes the checked-out
 * commit (checkout, merge, pull) the workspace follows the pointer files and
 * mlp.lock; before a push, the data those commits reference is pinned and
 * offered to peers, so a teammate who pulls the commits can get it.
 * post-checkout's third argument is 0 for a file checkout (`git checkout -- f`),
 * which changes no commit.
 */
const HOOKS: Record<InstalledHook['name'], string> = {
  'post-checkout': '[ "$3" = "0" ] && exit 0\nexec mlp checkout\n',
  'post-merge': 'exec mlp checkout\n',
  'pre-push': 'exec mlp push\n'
}

function hookText (body: string): string {
  return `#!/bin/sh\n${HOOK_MARKER}\n${body}`
}

/** The repository's hooks folder, as git itself finds it (core.hooksPath, worktrees). */
async function hooksDir (root: string): Promise<string> {
  let out: string
  try {
    out = (await run('git', ['rev-parse', '--git-path', 'hooks'], { cwd: root, timeout: 10_000 })).stdout.trim()
  } catch (err) {
    throw new NotAGitRepoError(`${root} is not inside a git repository that git can read: ${(err as Error).message.split('\n')[0]}`, { cause: err })
  }
  return isAbsolute(out) ? out : resolve(root, out)
}

async function readOrNull (path: string): Promise<string | null> {
  try {
    return await readFile(path, 'utf8')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null
    throw err
  }
}

/**
 * `mlp install`: writes the post-checkout, post-merge and pre-push hooks.
 * Idempotent: hooks mlp wrote are rewritten (an older version) or left. A
 * hook someone else wrote is refused unless `force`, before anything is
 * written; with `force` it is moved aside to `<name>.pre-mlp`.
 */
export async function installHooks (root: string, force = false): Promise<InstalledHook[]> {
  const dir = await hooksDir(root)
  const plan: Array<{ name: InstalledHook['name'], path: string, text: string, now: string | null }> = []
  for (const [name, body] of Object.entries(HOOKS) as Array<[InstalledHook['name'], string]>) {
    const path = join(dir, name)
    plan.push({ name, path, text: hookText(body), now: await readOrNull(path) })
  }
  const foreign = plan.filter((h) => h.now != null && !h.now.includes(HOOK_MARKER))
  if (foreign.length > 0 && !force) {
    throw new HookExistsError(`${foreign.map((h) => h.path).join(', ')} already exist${foreign.length === 1 ? 's' : ''} and mlp did not write ${foreign.length === 1 ? 'it' : 'them'}: add \`exec mlp checkout\` / \`exec mlp push\` to ${foreign.length === 1 ? 'it' : 'them'} yourself, or run \`mlp install --force\` (moves ${foreign.length === 1 ? 'it' : 'them'} to <name>.pre-mlp)`)
  }
  await ensureHooksDir(dir)
  const out: InstalledHook[] = []
  for (const h of plan) {
    if (h.now === h.text) {
      out.push({ name: h.name, path: h.path, state: 'unchanged' })
      continue
    }
    let backup: string | undefined
    if (h.now != null && !h.now.includes(HOOK_MARKER)) {
      backup = `${h.path}.pre-mlp`
      await rename(h.path, backup)
    }
    // a fresh file ('wx' after rm): a symlink planted at the hook's name is replaced, never written through
    const tmp = `${h.path}.mlp-tmp`
    await rm(tmp, { force: true })
    await writeFile(tmp, h.text, { flag: 'wx', mode: 0o755 })
    await chmod(tmp, 0o755)
    await rename(tmp, h.path)
    out.push({ name: h.name, path: h.path, state: backup != null ? 'replaced' : 'installed', ...(backup != null ? { backup } : {}) })
  }
  return out
}

/** Makes the hooks folder exist as a real directory (a fresh clone has one; core.hooksPath may name a new one). */
async function ensureHooksDir (dir: string): Promise<void> {
  let isDir: boolean
  try {
    isDir = (await stat(dir)).isDirectory()
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
    await mkdir(dir, { recursive: true })
    return
  }
  if (!isDir) throw new NotAGitRepoError(`${dir} (git's hooks folder) is not a directory`)
}
