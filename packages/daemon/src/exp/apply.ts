import { randomBytes } from 'node:crypto'
import { lstatSync } from 'node:fs'
import { mkdtemp, readFile, rename, rm, writeFile } from 'node:fs/promises'
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
import { dirtyTracked, git, hasCommit, headCommit, patchedBlobs, patchPaths, patchSymlinks, workspaceBlob } from './git.js'
import { fetchPatchBytes } from './patch.js'

/**
 * `mlp exp apply`: makes the workspace the experiment's: its code and
 * params changes (the stored patch, applied with git onto its base), its
 * locks and its outs, so the next `mlp repro` runs nothing. Everything that
 * can fail is done before the workspace changes: the base commit must be
 * here, the patch and every out fetched (from whichever peer holds them),
 * the lock texts valid, the patch free of symlinks, and no uncommitted
 * change may touch a file the patch changes. Should a later step still
 * fail (a lock path that is not a regular file, a full disk), the patch is
 * taken back and the locks restored, so the workspace is as it was.
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

  const applied = await applyPatch(root, rec, patch)
  const previous = new Map<string, string | undefined>()
  try {
    // after the patch: the lock files are those of the experiment's pipeline files
    const allowed = new Map(requireProjectPipeline(root).units.map((u) => [relative(root, u.lockFile), u.lockFile]))
    for (const { path, text } of locks) {
      const abs = allowed.get(path)
      if (abs == null) throw new ExpError(`experiment '${rec.name}' has a lock ${path} beside no pipeline file of this project`)
      previous.set(abs, await readFile(abs, 'utf8').catch(() => undefined))
      await writeRegularFile(abs, text)
    }
    const outs = stageOutputs(root)
    await checkoutOutputs(c.store, root, outs, { signal })
    return { name: rec.name, by: rec.author, patched: applied != null, changes: applied?.changes ?? [], locks: locks.map((l) => l.path), outs: outs.map((o) => relative(root, o.abs)) }
  } catch (err) {
    await undo(root, applied, previous)
    throw err
  }
}

/** Takes back what a failed apply did: the locks written (a lock that was not there is removed) and the patch. Best effort: the first error is what the user sees. */
async function undo (root: string, applied: Applied | undefined, previous: Map<string, string | undefined>): Promise<void> {
  for (const [abs, text] of previous) {
    await (text == null ? rm(abs, { force: true }) : writeRegularFile(abs, text)).catch(() => {})
  }
  if (applied != null) await git(root, [...applied.args.slice(0, -1), '--reverse', '-'], { input: applied.patch }).catch(() => {})
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

/** A patch applied to the workspace: the git arguments that applied it (to take it back) and what it changed. */
interface Applied {
  args: string[]
  patch: Buffer
  changes: string[]
}

/**
 * Applies the patch with git unless the workspace holds it already
 * (undefined then; else the git arguments that applied it, to take it back).
 * A patch that leaves a symlink is refused: see {@link patchSymlinks}. A
 * file the patch changes that has uncommitted changes is left as it is when
 * it already holds the experiment's version, and is a conflict otherwise:
 * nothing is applied.
 */
async function applyPatch (root: string, rec: ExpRecord, patch: Buffer): Promise<Applied | undefined> {
  if (patch.length === 0) return undefined
  await refuseSymlinks(root, rec, patch)
  try {
    await git(root, ['apply', '--reverse', '--check', '-'], { input: patch })
    return undefined
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
  // git's own words for what changes (unusual path bytes come C-quoted): the user sees what a teammate's patch did
  const changes = (await git(root, [...args.slice(0, -1), '--numstat', '--summary', '-'], { input: patch })).toString('utf8').split('\n').map((l) => l.trim()).filter((l) => l !== '')
  await git(root, args, { input: patch })
  return { args, patch, changes }
}

/**
 * Refuses a patch that would leave a symlink (its author could point one
 * at a file outside the project, for mlp or the user to write through
 * later). Experiments are code and params edits: none needs one.
 */
export async function refuseSymlinks (root: string, rec: ExpRecord, patch: Buffer): Promise<void> {
  let links: string[]
  try {
    links = await withTempDir(async (dir) => await patchSymlinks(root, rec.base, patch, join(dir, 'index')))
  } catch (err) {
    throw new ExpError(`the code changes of experiment '${rec.name}' do not apply to its base commit ${rec.base.slice(0, 9)}: nothing was changed`, { cause: err })
  }
  if (links.length > 0) throw new ExpError(`experiment '${rec.name}' creates symlinks (${links.slice(0, 3).map((l) => JSON.stringify(l)).join(', ')}${links.length > 3 ? ', ...' : ''}), which mlp refuses in an experiment's code changes: nothing was changed`)
}

async function withTempDir<T> (fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), 'mlp-exp-'))
  try {
    return await fn(dir)
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
}

/**
 * Writes a file by rename, refusing to replace anything but a regular file.
 * The temporary file has a random name created with 'wx' (as pipeline/lock.ts
 * writes locks): a symlink planted under a predictable name would otherwise
 * be written through, and then renamed into place.
 */
async function writeRegularFile (abs: string, text: string): Promise<void> {
  try {
    if (!lstatSync(abs).isFile()) throw new ExpError(`${abs} is not a regular file: not replaced`)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
  }
  const tmp = `${abs}.${randomBytes(6).toString('hex')}.tmp`
  try {
    await writeFile(tmp, text, { flag: 'wx' })
    await rename(tmp, abs)
  } catch (err) {
    await rm(tmp, { force: true })
    throw err
  }
}
