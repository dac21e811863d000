import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ExpError, type ExpBranchResult } from '@mlp/proto'
import { requireProjectId } from '../tracking/project-id.js'
import { findProject } from '../tracking/project.js'
import { refuseSymlinks } from './apply.js'
import { findExperiment, type ExpComponents } from './context.js'
import { git, hasCommit } from './git.js'
import { fetchPatchBytes } from './patch.js'

/**
 * `mlp exp branch <name> <branch>`: a new git branch whose one commit, on
 * the experiment's base, holds its code and params changes and its locks.
 * Built in a temporary index: the workspace, the current branch and the
 * user's index are not touched; an existing branch is never moved.
 */
export async function branchExperiment (c: ExpComponents, cwd: string, ref: string, branch: string, signal?: AbortSignal): Promise<ExpBranchResult> {
  const root = findProject(cwd)
  const rec = findExperiment(c, requireProjectId(root), ref)
  try {
    await git(root, ['check-ref-format', '--branch', branch])
  } catch (err) {
    throw new ExpError(`'${branch}' is not a valid branch name`, { cause: err })
  }
  if (await hasCommit(root, `refs/heads/${branch}`)) throw new ExpError(`branch '${branch}' exists already: choose another name`)
  if (!await hasCommit(root, rec.base)) throw new ExpError(`experiment '${rec.name}' started from commit ${rec.base}, which this repository does not have: \`git fetch\` first`)
  const patch = await fetchPatchBytes(c, rec, signal)
  // a branch is checked out later: a symlink in it is as dangerous as one applied
  if (patch.length > 0) await refuseSymlinks(root, rec, patch)
  const dir = await mkdtemp(join(tmpdir(), 'mlp-exp-branch-'))
  try {
    const env = { GIT_INDEX_FILE: join(dir, 'index') }
    await git(root, ['read-tree', rec.base], { env })
    if (patch.length > 0) await git(root, ['apply', '--cached', '-'], { input: patch, env })
    for (const l of rec.locks) {
      const blob = (await git(root, ['hash-object', '-w', '--stdin'], { input: l.text })).toString('utf8').trim()
      await git(root, ['update-index', '--add', '--cacheinfo', `100644,${blob},${l.path}`], { env })
    }
    const tree = (await git(root, ['write-tree'], { env })).toString('utf8').trim()
    const message = `mlp experiment ${rec.name}\n\nby ${rec.author}, started ${rec.startedAt}\n`
    const commit = (await git(root, ['commit-tree', tree, '-p', rec.base, '-m', message])).toString('utf8').trim()
    await git(root, ['branch', branch, commit])
    return { branch, commit }
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
}
