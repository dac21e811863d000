import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { parse } from 'yaml'

/** Pointer files larger than this are not read here: a real one is a few lines; `mlp status` reports a bad one. */
const MAX_POINTER_BYTES = 1024 * 1024

/**
 * The pointer file (`.mlp` or `.dvc`, in the project's root folder) that
 * tracks the root's file `name` as data, or undefined. That is `name.mlp`
 * or `name.dvc` when it exists, and any other pointer there whose out path
 * is `name`: a pointer may name any path beside it, so `x.mlp` with
 * `path: mlp.yaml` would have `mlp pull` write the pipeline file. Pointer
 * paths never climb (`..` is refused), so only root pointers can name it.
 */
export function rootPointerOf (root: string, name: string): string | undefined {
  for (const suffix of ['.mlp', '.dvc']) if (existsSync(join(root, name + suffix))) return name + suffix
  for (const entry of readdirSync(root, { withFileTypes: true })) {
    if (!entry.isFile() || !(entry.name.endsWith('.mlp') || entry.name.endsWith('.dvc'))) continue
    const file = join(root, entry.name)
    try {
      if (statSync(file).size > MAX_POINTER_BYTES) continue
      // read loosely: parsePointer refuses such a pointer outright (so pull never writes the
      // file), but one pulled by an older mlp may have written it already
      const doc = parse(readFileSync(file, 'utf8')) as { outs?: Array<{ path?: unknown }> } | null
      if (Array.isArray(doc?.outs) && doc.outs.some((o) => o?.path === name || o?.path === `./${name}`)) return entry.name
    } catch {
      // unreadable or not YAML: it names nothing, and pull and checkout refuse it
    }
  }
  return undefined
}
