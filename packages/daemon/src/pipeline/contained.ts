import { realpathSync } from 'node:fs'
import { basename, dirname, isAbsolute, join, relative, sep } from 'node:path'
import { PipelineError } from './errors.js'
import { quoteName } from '../store/path-rules.js'

function isInside (root: string, path: string): boolean {
  const rel = relative(root, path)
  return rel === '' || (rel !== '..' && !rel.startsWith(`..${sep}`) && !isAbsolute(rel))
}

/**
 * The real path of `path` (absolute, or relative to `root`), after checking
 * it stays inside the project `root`: every symlink on the way is resolved,
 * for a path that does not exist yet those of its deepest existing ancestor.
 * A commit can hold `secrets -> ~/.ssh` and name `secrets/id_ed25519` as a dep,
 * or `params.yaml -> /proc/self/pagemap`: checking the string alone misses
 * both. A symlinked directory whose target stays inside the project is fine.
 * Throws a one-line {@link PipelineError} naming the path (after `label`,
 * say `stage 'train': dep`) and where it leads.
 */
export function checkInsideProject (root: string, path: string, label?: string): string {
  const abs = isAbsolute(path) ? path : join(root, path)
  const realRoot = realpathSync(root)
  let at = abs
  let rest = ''
  for (;;) {
    let real: string
    try {
      real = realpathSync(at)
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code
      // missing (or a dangling link): resolve the nearest ancestor that exists
      if ((code === 'ENOENT' || code === 'ENOTDIR') && dirname(at) !== at) {
        rest = rest === '' ? basename(at) : join(basename(at), rest)
        at = dirname(at)
        continue
      }
      throw err
    }
    if (!isInside(realRoot, real)) {
      const shown = quoteName(isInside(root, abs) ? relative(root, abs) : abs)
      const to = quoteName(rest === '' ? real : join(real, rest))
      throw new PipelineError(`${label == null ? '' : `${label} `}${shown} leads outside the project (to ${to}) through a symlink: refused`)
    }
    return rest === '' ? real : join(real, rest)
  }
}
