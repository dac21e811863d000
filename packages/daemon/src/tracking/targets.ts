import { existsSync } from 'node:fs'
import { resolve } from 'node:path'
import { PathError } from '@mlp/proto'
import { findPointers } from './discover.js'
import { POINTER_SUFFIX } from './pointers.js'
import { projectPath } from './project.js'

/** Pointer files named by `targets` (a tracked path or its `.mlp` file), or all of the project's. */
export async function resolvePointers (root: string, cwd: string, targets: string[] | undefined, signal?: AbortSignal): Promise<string[]> {
  if (targets == null || targets.length === 0) return await findPointers(root, signal)
  return targets.map((t) => {
    const { abs } = projectPath(root, cwd, t)
    const pointer = abs.endsWith(POINTER_SUFFIX) ? abs : `${abs}${POINTER_SUFFIX}`
    if (!existsSync(pointer)) throw new PathError(`${t} is not tracked: there is no ${resolve(cwd, pointer)}`)
    return pointer
  })
}
