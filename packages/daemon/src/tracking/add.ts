import { execFile } from 'node:child_process'
import { existsSync, lstatSync } from 'node:fs'
import { basename, dirname, join, relative, sep } from 'node:path'
import { PathError, type AddedOut, type AddProgress } from '@mlp/proto'
import { CID } from 'multiformats/cid'
import { reservedPathProblem } from '../pipeline/reserved-paths.js'
import type { Store } from '../store/index.js'
import { protectRoots } from '../store/in-flight.js'
import { ignoreInGit } from './gitignore.js'
import { POINTER_SUFFIX, writePointer } from './pointers.js'
import { findProject, projectPath } from './project.js'

/** Options of {@link addPaths}. */
export interface AddOptions {
  signal?: AbortSignal
  onProgress?: (event: AddProgress) => void
  /** The outs of the project's pipeline stages (project-relative, `/`-separated) and their stage: `mlp repro` tracks those, `mlp add` refuses them. */
  stageOuts?: Map<string, string>
}

/** Whether git tracks `rel` (or, for a directory, anything below it) in the repository at `root`. */
async function trackedByGit (root: string, rel: string): Promise<boolean> {
  if (!existsSync(join(root, '.git'))) return false
  return await new Promise((resolve) => {
    execFile('git', ['--literal-pathspecs', '-C', root, 'ls-files', '--error-unmatch', '--', rel], { env: { ...process.env, GIT_OPTIONAL_LOCKS: '0' } }, (err) => { resolve(err == null) })
  })
}

/** Why `rel` may not be added because of a stage out, or undefined. */
function stageOutProblem (input: string, rel: string, outs: Map<string, string>): string | undefined {
  for (const [out, stage] of outs) {
    if (rel === out) return `${input} is an output of stage '${stage}': \`mlp repro\` stores it and mlp.lock records it, so it is not added`
    if (rel.startsWith(out + '/')) return `${input} is inside ${out}, an output of stage '${stage}': \`mlp repro\` stores it and mlp.lock records it, so it is not added`
    if (out.startsWith(rel + '/')) return `${input} contains ${out}, an output of stage '${stage}': add the other paths inside it one by one`
  }
  return undefined
}

/**
 * `mlp add`: imports each path into the store, then writes its pointer file
 * and `.gitignore` entry. Every path is checked before anything is imported,
 * and pointer files are written only once every import succeeded, so a bad
 * path changes nothing in the workspace.
 */
export async function addPaths (store: Store, cwd: string, paths: string[], options: AddOptions = {}): Promise<AddedOut[]> {
  if (paths.length === 0) throw new PathError('nothing to add: name one or more files or directories')
  const root = findProject(cwd)
  const targets = paths.map((p) => {
    const { abs, rel } = projectPath(root, cwd, p)
    if (abs.endsWith(POINTER_SUFFIX)) throw new PathError(`${p} is a pointer file: add the data it describes instead`)
    // a pipeline file pulled as data would be read as code by a teammate's next command
    const reserved = reservedPathProblem(rel)
    if (reserved != null) throw new PathError(`cannot add ${p}: ${reserved}`)
    try {
      lstatSync(abs)
    } catch {
      throw new PathError(`${p} does not exist`)
    }
    const parts = rel.split(sep)
    for (let i = 1; i < parts.length; i++) {
      const parent = join(root, ...parts.slice(0, i))
      if (existsSync(parent + POINTER_SUFFIX)) throw new PathError(`${p} is inside ${relative(cwd, parent)}, which is tracked as a whole: add that again instead`)
    }
    return { input: p, abs, rel: rel.split(sep).join('/') }
  })
  for (const t of targets) {
    const problem = stageOutProblem(t.input, t.rel, options.stageOuts ?? new Map())
    if (problem != null) throw new PathError(problem)
    // as DVC: data git already tracks would be ignored by git yet kept in it, two owners of one file
    if (await trackedByGit(root, t.rel)) throw new PathError(`${t.input} is tracked by git: run \`git rm -r --cached ${t.rel}\` (and commit) first to let mlp track it instead`)
  }
  const results = await store.lock.read(async () => {
    const out: Array<{ input: string, abs: string, rel: string, cid: string, size: number, nfiles: number, kind: 'file' | 'dir', hashedFiles: number }> = []
    for (const t of targets) {
      const r = await store.importer.import(t.abs, basename(t.abs), {
        signal: options.signal,
        onProgress: (p) => options.onProgress?.({ name: 'store:add', detail: { ...p, path: t.input } })
      })
      out.push({ ...t, cid: r.link.cid.toString(), size: r.size, nfiles: r.nfiles, kind: r.kind, hashedFiles: r.hashedFiles })
    }
    // protected before the lock is let go: a gc between here and the pointer file keeps them
    return { out, release: protectRoots(store.blockstore, out.map((r) => CID.parse(r.cid))) }
  })
  const added: AddedOut[] = []
  try {
    for (const r of results.out) {
      const pointer = r.abs + POINTER_SUFFIX
      await writePointer(pointer, { outs: [{ path: basename(r.abs), cid: r.cid, size: r.size, nfiles: r.kind === 'dir' ? r.nfiles : undefined }] })
      await ignoreInGit(r.abs)
      added.push({ path: r.input, pointer: relative(cwd, pointer), cid: r.cid, size: r.size, nfiles: r.nfiles, hashedFiles: r.hashedFiles })
    }
  } finally {
    results.release()
  }
  return added
}

/** The directory a pointer's out paths are relative to. */
export function pointerDir (pointer: string): string {
  return dirname(pointer)
}
