import { execFileSync } from 'node:child_process'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { UnknownRevisionError } from '@mlp/proto'
import { reportBase } from '../src/report/base.js'

const dirs: string[] = []
afterAll(async () => { for (const d of dirs) await rm(d, { recursive: true, force: true }) })

function git (cwd: string, ...args: string[]): string {
  return execFileSync('git', ['-c', 'user.email=t@t', '-c', 'user.name=t', ...args], { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim()
}

/** A repository with `main` (two commits) and `feature` branched from its first commit, checked out. */
async function repo (): Promise<{ dir: string, fork: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'mlp-base-'))
  dirs.push(dir)
  git(dir, 'init', '-q', '-b', 'main')
  await writeFile(join(dir, 'a'), '1')
  git(dir, 'add', 'a')
  git(dir, 'commit', '-qm', 'one')
  const fork = git(dir, 'rev-parse', 'HEAD')
  await writeFile(join(dir, 'a'), '2')
  git(dir, 'commit', '-qam', 'two')
  git(dir, 'checkout', '-q', '-b', 'feature', fork)
  await writeFile(join(dir, 'b'), '3')
  git(dir, 'add', 'b')
  git(dir, 'commit', '-qm', 'three')
  return { dir, fork }
}

describe('reportBase', { timeout: 30_000 }, () => {
  it('without a remote: the merge base with the local main, and says so', async () => {
    const { dir, fork } = await repo()
    expect(await reportBase(dir)).toEqual({ rev: 'main', commit: fork, how: 'merge base with the local main (no remote default branch found)' })
  })

  it('with a remote: the merge base with its default branch (origin/HEAD), before any local branch', async () => {
    const { dir, fork } = await repo()
    const remote = await mkdtemp(join(tmpdir(), 'mlp-base-remote-'))
    dirs.push(remote)
    git(remote, 'init', '-q', '--bare')
    // the remote's main is the fork point, the local main has moved on
    git(dir, 'push', '-q', remote, `${fork}:refs/heads/main`)
    git(dir, 'remote', 'add', 'origin', remote)
    git(dir, 'fetch', '-q', 'origin')
    git(dir, 'remote', 'set-head', 'origin', 'main')
    expect(await reportBase(dir)).toEqual({ rev: 'origin/main', commit: fork, how: "merge base with origin/main, the remote's default branch" })
  })

  it('a given base is used as is; an unknown one is an error naming it', async () => {
    const { dir, fork } = await repo()
    expect(await reportBase(dir, 'HEAD~1')).toEqual({ rev: 'HEAD~1', commit: fork, how: 'given' })
    await expect(reportBase(dir, 'no-such-branch')).rejects.toThrow(UnknownRevisionError)
    await expect(reportBase(dir, 'no-such-branch')).rejects.toThrow('no-such-branch')
    await expect(reportBase(dir, '--output=/tmp/x')).rejects.toThrow(/is not a git revision/)
  })
})
