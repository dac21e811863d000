import { lstatSync, readdirSync } from 'node:fs'
import { join } from 'node:path'

/**
 * The files below `path` (relative to `root`) whose names `accept`, as
 * `path/...` paths, sorted; undefined when `path` is not a folder. Symlinks
 * are not followed (a committed link must not lead the walk out of the
 * project). Over `max` files, `tooMany()` is thrown: a metrics or plots
 * folder is read whole or refused, never half.
 */
export function filesBelow (root: string, path: string, accept: (name: string) => boolean, max: number, tooMany: () => Error): string[] | undefined {
  try {
    if (!lstatSync(join(root, path)).isDirectory()) return undefined
  } catch {
    return undefined
  }
  const found: string[] = []
  const stack = [path]
  while (stack.length > 0) {
    const dir = stack.pop() as string
    for (const e of readdirSync(join(root, dir), { withFileTypes: true })) {
      const p = `${dir}/${e.name}`
      if (e.isDirectory()) stack.push(p)
      else if (e.isFile() && accept(e.name)) found.push(p)
      if (found.length > max) throw tooMany()
    }
  }
  return found.sort()
}
