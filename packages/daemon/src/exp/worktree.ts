import { randomBytes } from 'node:crypto'
import { mkdir, rm } from 'node:fs/promises'
import { join } from 'node:path'
import { git } from './git.js'

/** git takes a lock on the repository's worktree list: adds and removes go one at a time. */
let turn: Promise<unknown> = Promise.resolve()
async function serial<T> (fn: () => Promise<T>): Promise<T> {
  const run = turn.then(fn, fn)
  turn = run.catch(() => {})
  return await run
}

/**
 * Runs `fn` in a fresh detached git worktree of `root` at `commit`, made
 * under `parent` (in `MLP_HOME`, never in the user's workspace) and removed
 * afterwards whatever happens: an experiment built or run there leaves the
 * user's files as they were.
 */
export async function withWorktree<T> (root: string, commit: string, parent: string, fn: (dir: string) => Promise<T>): Promise<T> {
  await mkdir(parent, { recursive: true, mode: 0o700 })
  const dir = join(parent, randomBytes(8).toString('hex'))
  await serial(async () => await git(root, ['worktree', 'add', '--detach', '--quiet', dir, commit]))
  try {
    return await fn(dir)
  } finally {
    await serial(async () => {
      await git(root, ['worktree', 'remove', '--force', dir]).catch(async () => {
        await rm(dir, { recursive: true, force: true })
        await git(root, ['worktree', 'prune']).catch(() => {})
      })
    })
  }
}
