import { existsSync } from 'node:fs'
import { rm } from 'node:fs/promises'
import { dirname, join, relative } from 'node:path'
import { NotTrackedError, PathError, type RemovedOut } from '@mlp/proto'
import { unignoreInGit } from './gitignore.js'
import { POINTER_SUFFIX, readPointer } from './pointers.js'
import { findProject, projectPath } from './project.js'

/**
 * `mlp remove`: stops tracking paths that pointer files track. Each target
 * (the data's path or its `.mlp` file) loses its pointer file and its
 * `.gitignore` entry; the workspace data stays, and so do its blocks until a
 * gc finds nothing else keeps them. Every target is checked before anything
 * is removed, so one bad target changes nothing.
 */
export async function removePaths (cwd: string, targets: string[]): Promise<RemovedOut[]> {
  if (targets.length === 0) throw new PathError('nothing to remove: name tracked paths or their .mlp files')
  const root = findProject(cwd)
  const found = await Promise.all(targets.map(async (t) => {
    const { abs } = projectPath(root, cwd, t)
    const pointer = abs.endsWith(POINTER_SUFFIX) ? abs : abs + POINTER_SUFFIX
    if (!existsSync(pointer)) throw new NotTrackedError(`${t} is not tracked by a pointer file (no ${relative(cwd, pointer)}); a stage's outs leave with the stage in mlp.yaml`)
    return { t, pointer, p: await readPointer(pointer) }
  }))
  const removed: RemovedOut[] = []
  for (const { t, pointer, p } of found) {
    await rm(pointer, { force: true })
    for (const o of p.outs) {
      await unignoreInGit(join(dirname(pointer), o.path))
      removed.push({ path: relative(cwd, join(dirname(pointer), o.path)) || t, pointer: relative(cwd, pointer), cid: o.cid })
    }
  }
  return removed
}
