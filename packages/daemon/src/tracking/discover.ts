import { readdir } from 'node:fs/promises'
import { join } from 'node:path'
import { POINTER_SUFFIX } from './pointers.js'
import { PROJECT_DIR } from './project.js'

/** Folders never searched for pointer files. */
const SKIP = new Set(['.git', PROJECT_DIR, 'node_modules'])

/**
 * Every pointer file below `root`, as absolute paths, sorted. A tracked
 * directory (`x/` beside `x.mlp`) is not descended into: it holds data, not
 * pointers, and may be huge.
 */
export async function findPointers (root: string, signal?: AbortSignal): Promise<string[]> {
  const out: string[] = []
  const visit = async (dir: string, depth: number): Promise<void> => {
    signal?.throwIfAborted()
    if (depth > 64) return
    let entries
    try {
      entries = await readdir(dir, { withFileTypes: true })
    } catch {
      return
    }
    const tracked = new Set(entries.filter((e) => e.isFile() && e.name.endsWith(POINTER_SUFFIX)).map((e) => e.name.slice(0, -POINTER_SUFFIX.length)))
    for (const e of entries) {
      if (e.isFile() && e.name.endsWith(POINTER_SUFFIX)) out.push(join(dir, e.name))
      else if (e.isDirectory() && !SKIP.has(e.name) && !tracked.has(e.name)) await visit(join(dir, e.name), depth + 1)
    }
  }
  await visit(root, 0)
  return out.sort()
}
