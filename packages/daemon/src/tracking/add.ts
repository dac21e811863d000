import { existsSync, lstatSync } from 'node:fs'
import { basename, dirname, join, relative, sep } from 'node:path'
import { PathError, type AddedOut, type AddProgress } from '@mlp/proto'
import type { Store } from '../store/index.js'
import { ignoreInGit } from './gitignore.js'
import { POINTER_SUFFIX, writePointer } from './pointers.js'
import { findProject, projectPath } from './project.js'

/** Options of {@link addPaths}. */
export interface AddOptions {
  signal?: AbortSignal
  onProgress?: (event: AddProgress) => void
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
    return { input: p, abs }
  })
  const results = await store.lock.read(async () => {
    const out: Array<{ input: string, abs: string, cid: string, size: number, nfiles: number, kind: 'file' | 'dir', hashedFiles: number }> = []
    for (const t of targets) {
      const r = await store.importer.import(t.abs, basename(t.abs), {
        signal: options.signal,
        onProgress: (p) => options.onProgress?.({ name: 'store:add', detail: { ...p, path: t.input } })
      })
      out.push({ ...t, cid: r.link.cid.toString(), size: r.size, nfiles: r.nfiles, kind: r.kind, hashedFiles: r.hashedFiles })
    }
    return out
  })
  const added: AddedOut[] = []
  for (const r of results) {
    const pointer = r.abs + POINTER_SUFFIX
    await writePointer(pointer, { outs: [{ path: basename(r.abs), cid: r.cid, size: r.size, nfiles: r.kind === 'dir' ? r.nfiles : undefined }] })
    await ignoreInGit(r.abs)
    added.push({ path: r.input, pointer: relative(cwd, pointer), cid: r.cid, size: r.size, nfiles: r.nfiles, hashedFiles: r.hashedFiles })
  }
  return added
}

/** The directory a pointer's out paths are relative to. */
export function pointerDir (pointer: string): string {
  return dirname(pointer)
}
