import { lstatSync } from 'node:fs'
import { mkdtemp, rename, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, relative } from 'node:path'
import { ExpError, type ExpApplyResult, type ExpRecord } from '@mlp/proto'
import { CID } from 'multiformats/cid'
import { stageOutputs } from '../pipeline/lock-outs.js'
import { readLock, type LockFile } from '../pipeline/lock.js'
import { requireProjectPipeline } from '../pipeline/project-pipeline.js'
import { checkoutOutputs } from '../tracking/checkout.js'
import { requireProjectId } from '../tracking/project-id.js'
import { findProject } from '../tracking/project.js'
import { registerProject } from '../tracking/roots.js'
import { findExperiment, type ExpComponents } from './context.js'
import { dirtyTracked, git, hasCommit, headCommit, patchedBlobs, patchPaths, workspaceBlob } from './git.js'
import { fetchPatchBytes } from './patch.js'

/**
 * `mlp exp apply`: makes the workspace the experiment's: its code and
 * params changes (the stored patch, applied with git onto its base), its
 * locks and its outs, so the next `mlp repro` runs nothing. Everything that
 * can fail is done before the workspace changes: the base commit must be
 * here, the patch and every out fetched (from whichever peer holds them),
 * the lock texts valid, and no uncommitted change may touch a file the
 * patch changes.
 */
export async function applyExperiment (c: ExpComponents, cwd: string, ref: string, signal?: AbortSignal): Promise<ExpApplyResult> {
  const root = findProject(cwd)
  const project = requireProjectId(root)
  await registerProject(c.store, root)
  const rec = findExperiment(c, project, ref)
  const who = rec.author === c.peerId ? 'this machine' : rec.author
  if (rec.state !== 'done') throw new ExpError(`experiment '${rec.name}' is ${rec.state}: only a finished experiment can be applied`)
  if (!await hasCommit(root, rec.base)) throw new ExpError(`experiment '${rec.name}' started from commit ${rec.base}, which this repository does not have: \`git fetch\` (its author must have pushed it), then apply again`)

  const patch = await fetchPatchBytes(c, rec, signal)
  const locks = await checkLocks(rec)
  for (const { lock } of locks) {
    for (const o of Object.values(lock.stages).flatMap((e) => e.outs)) {
      try {
        await c.fetch(CID.parse(o.cid), signal)
      } catch (err) {
        throw new ExpError(`no reachable peer holds '${o.path}' (${o.cid}) of experiment '${rec.name}': start the daemon of ${who} or of a teammate who has it, connect to it (\`mlp peers add\`), then run \`mlp exp apply ${ref}\` again`, { cause: err })
      }
    }
  }

  const patched = await applyPatch(root, rec, patch)
  // after the patch: the lock files are those of the experiment's pipeline files
  const allowed = new Map(requireProjectPipeline(root).units.map((u) => [relative(root, u.lockFile), u.lockFile]))
  for (const { path, text } of locks) {
    const abs = allowed.get(path)
    if (abs == null) throw new ExpError(`experiment '${rec.name}' has a lock ${path} beside no pipeline file of this project`)
    await writeRegularFile(abs, text)
  }
  const outs = stageOutputs(root)
  await checkoutOutputs(c.store, root, outs, { signal })
  return { name: rec.name, by: rec.author, patched, locks: locks.map((l) => l.path), outs: outs.map((o) => relative(root, o.abs)) }
}

/** The record's lock texts, each parsed by the lock reader (its path rules included) before any is written. */
async function checkLocks (rec: ExpRecord): Promise<Array<{ path: string, text: string, lock: LockFile }>> {
  const dir = await mkdtemp(join(tmpdir(), 'mlp-exp-lock-'))
  try {
    const out: Array<{ path: string, text: string, lock: LockFile }> = []
    for (const { path, text } of rec.locks) {
      const file = join(dir, 'mlp.lock')
      await writeFile(file, text)
      try {
        out.push({ path, text, lock: readLock(file) })
      } catch (err) {
        throw new ExpError(`experiment '${rec.name}' has a malformed lock ${path}: ${(err as Error).message.replace(file, path)}`, { cause: err })
      }
    }
    return out
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
}

/**
 * Applies the patch with git unless the workspace holds it already (false
 * then). A file the patch changes that has uncommitted changes is left as it
 * is when it already holds the experiment's version, and is a conflict
 * otherwise: nothing is applied.
 */
async function applyPatch (root: string, rec: ExpRecord, patch: Buffer): Promise<boolean> {
  if (patch.length === 0) return false
  try {
    await git(root, ['apply', '--reverse', '--check', '-'], { input: patch })
    return false
  } catch {
    // not applied yet
  }
  const dirty = new Set(await dirtyTracked(root))
  const touched = (await patchPaths(root, patch)).filter((p) => dirty.has(p))
  const same: string[] = []
  if (touched.length > 0) {
    const wanted = await withTempDir(async (dir) => await patchedBlobs(root, rec.base, patch, touched, join(dir, 'index')))
    for (const p of touched) if (await workspaceBlob(root, p) === wanted.get(p)) same.push(p)
  }
  const conflicts = touched.filter((p) => !same.includes(p))
  if (conflicts.length > 0) throw new ExpError(`uncommitted changes to ${conflicts.slice(0, 3).join(', ')}${conflicts.length > 3 ? ', ...' : ''} conflict with experiment '${rec.name}': commit them or \`git stash\` them, then apply again`)
  const args = ['apply', ...same.map((p) => `--exclude=${p.replace(/[*?[\\]/g, '\\$&')}`), '-']
  try {
    await git(root, [...args.slice(0, -1), '--check', '-'], { input: patch })
  } catch (err) {
    const head = await headCommit(root)
    throw new ExpError(`the changes of experiment '${rec.name}' do not apply to this workspace (it started from ${rec.base.slice(0, 9)}, HEAD is ${head.slice(0, 9)}): \`git checkout ${rec.base.slice(0, 9)}\` first, or \`mlp exp branch ${rec.name} <branch>\``, { cause: err })
  }
  await git(root, args, { input: patch })
  return true
}

async function withTempDir<T> (fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), 'mlp-exp-'))
  try {
    return await fn(dir)
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
}

/** Writes a file by rename, refusing to replace anything but a regular file (a symlink is never followed). */
async function writeRegularFile (abs: string, text: string): Promise<void> {
  try {
    if (!lstatSync(abs).isFile()) throw new ExpError(`${abs} is not a regular file: not replaced`)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
  }
  const tmp = `${abs}.mlp-tmp-${process.pid}`
  await writeFile(tmp, text)
  await rename(tmp, abs)
}
