import { execFile } from 'node:child_process'
import type { ReportBase } from '@mlp/proto'
import { resolveRevision } from '../pipeline/revision.js'

async function git (root: string, args: string[]): Promise<string | undefined> {
  return await new Promise((resolve) => {
    execFile('git', args, { cwd: root, env: { ...process.env, GIT_TERMINAL_PROMPT: '0', GIT_OPTIONAL_LOCKS: '0' } }, (err, stdout) => {
      resolve(err == null ? stdout.trim() : undefined)
    })
  })
}

/** Local branches tried, in order, when no remote names a default branch. */
const LOCAL_DEFAULTS = ['main', 'master']

/**
 * The revision a report compares against. Given: that revision. Otherwise
 * the merge base of `HEAD` with the remote's default branch (`origin/HEAD`,
 * else `<remote>/main` or `<remote>/master` of the first remote that has
 * one), falling back to a local `main` or `master`; `how` says which.
 */
export async function reportBase (root: string, given?: string): Promise<ReportBase> {
  if (given != null) return { rev: given, commit: await resolveRevision(root, given), how: 'given' }
  const candidates: Array<{ ref: string, how: string }> = []
  const remoteHead = await git(root, ['symbolic-ref', '-q', '--short', 'refs/remotes/origin/HEAD'])
  if (remoteHead != null && remoteHead !== '') candidates.push({ ref: remoteHead, how: `merge base with ${remoteHead}, the remote's default branch` })
  for (const remote of (await git(root, ['remote']))?.split('\n').filter((r) => /^[A-Za-z0-9._-]+$/.test(r)) ?? []) {
    for (const b of LOCAL_DEFAULTS) candidates.push({ ref: `${remote}/${b}`, how: `merge base with ${remote}/${b}` })
  }
  for (const b of LOCAL_DEFAULTS) candidates.push({ ref: b, how: `merge base with the local ${b} (no remote default branch found)` })
  for (const c of candidates) {
    const commit = await git(root, ['merge-base', 'HEAD', `refs/remotes/${c.ref}`]) ?? await git(root, ['merge-base', 'HEAD', `refs/heads/${c.ref}`])
    if (commit != null && /^[0-9a-f]{40,64}$/.test(commit)) return { rev: c.ref, commit, how: c.how }
  }
  return await resolveRevision(root, 'HEAD').then((commit) => ({ rev: 'HEAD', commit, how: 'HEAD: no remote default branch and no local main or master to compare with' }))
}
