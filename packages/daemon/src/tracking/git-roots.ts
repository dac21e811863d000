import { execFile } from 'node:child_process'
import { existsSync } from 'node:fs'
import { basename, join } from 'node:path'
import { GcRootsError, type GcScope } from '@mlp/proto'
import { parse } from 'yaml'
import { CID } from 'multiformats/cid'
import { MAX_POINTER_BYTES, POINTER_SUFFIX, parsePointer } from './pointers.js'

/** Most branches and tags gc reads per project: past it gc stops and says to use `--workspace`. */
export const MAX_GIT_REFS = 1000
/** Most commits `--all-commits` reads per project. */
export const MAX_GIT_COMMITS = 10_000
/** Most distinct pointer and lock files gc reads from a project's history. */
export const MAX_GIT_FILES = 20_000
/** Largest lock file read from git (a pointer file is capped at {@link MAX_POINTER_BYTES}). */
export const MAX_GIT_LOCK_BYTES = 4 * 1024 * 1024
/** Largest answer of one git listing (`ls-tree -r` of a big tree, `log` of many commits). */
const MAX_GIT_OUTPUT_BYTES = 64 * 1024 * 1024

/** The name of the lock file: gc keeps the outs of its stages. */
export const LOCK_FILE = 'mlp.lock'

async function git (root: string, args: string[], what: string): Promise<string> {
  return await new Promise((resolve, reject) => {
    execFile('git', ['-C', root, ...args], { maxBuffer: MAX_GIT_OUTPUT_BYTES, env: { ...process.env, GIT_TERMINAL_PROMPT: '0', GIT_OPTIONAL_LOCKS: '0' } }, (err, stdout, stderr) => {
      if (err == null) return resolve(stdout)
      const why = (err as NodeJS.ErrnoException).code === 'ERR_CHILD_PROCESS_STDIO_MAXBUFFER' ? `over ${MAX_GIT_OUTPUT_BYTES / 1024 / 1024} MiB of output` : (stderr.trim().split('\n')[0] ?? err.message)
      reject(new GcRootsError(`${root}: cannot read ${what} through git (${why}): nothing was removed; \`mlp gc --workspace\` keeps only what the workspaces reference`, { cause: err }))
    })
  })
}

/**
 * The cids named by the stages' outs of a lock file's text. Malformed text
 * stops gc: guessing what it referenced could free a stage's outputs.
 */
export function lockCids (text: string, where: string): CID[] {
  let doc: unknown
  try {
    doc = parse(text)
  } catch (err) {
    throw new GcRootsError(`${where}: not valid YAML (${(err as Error).message.split('\n')[0]}): nothing was removed`, { cause: err })
  }
  if (doc == null) return []
  const stages = (doc as { stages?: unknown }).stages
  if (typeof doc !== 'object' || stages == null || typeof stages !== 'object') throw new GcRootsError(`${where}: expected 'schema' and 'stages': nothing was removed`)
  const out: CID[] = []
  for (const [name, entry] of Object.entries(stages as Record<string, { outs?: unknown }>)) {
    const outs = entry?.outs ?? []
    if (!Array.isArray(outs)) throw new GcRootsError(`${where}: stage '${name}': 'outs' is not a list: nothing was removed`)
    for (const o of outs as Array<{ cid?: unknown }>) {
      try {
        out.push(CID.parse(String(o?.cid)))
      } catch (err) {
        throw new GcRootsError(`${where}: stage '${name}': '${String(o?.cid)}' is not a content id: nothing was removed`, { cause: err })
      }
    }
  }
  return out
}

/** The commits gc reads for `scope`: branch and tag tips, or every commit; none for workspace scope or a folder without git. */
async function commitsOf (root: string, scope: GcScope): Promise<string[]> {
  if (scope === 'workspace' || !existsSync(join(root, '.git'))) return []
  if (scope === 'all-commits') {
    const lines = (await git(root, ['log', '--all', '--format=%T', `--max-count=${MAX_GIT_COMMITS + 1}`], 'the commits')).split('\n').filter((l) => l !== '')
    if (lines.length > MAX_GIT_COMMITS) throw new GcRootsError(`${root} has more than ${MAX_GIT_COMMITS} commits, more than \`mlp gc --all-commits\` reads: nothing was removed; run \`mlp gc\` (branch and tag tips) instead`)
    return lines
  }
  // peeled: an annotated tag names the commit it tags; a tag of a blob names no tree and is skipped
  const refs = (await git(root, ['for-each-ref', '--format=%(objecttype) %(*objecttype) %(refname)', 'refs/heads', 'refs/tags'], 'the branches and tags'))
    .split('\n').filter((l) => l !== '')
  if (refs.length > MAX_GIT_REFS) throw new GcRootsError(`${root} has ${refs.length} branches and tags, more than the ${MAX_GIT_REFS} gc reads: nothing was removed; run \`mlp gc --workspace\` or delete old refs`)
  return refs.filter((l) => /^(commit|tree) |^tag (commit|tree) /.test(l)).map((l) => `${l.slice(l.lastIndexOf(' ') + 1)}^{tree}`)
}

/**
 * The roots recorded in a project's git history for `scope`: the outs of
 * every pointer file and every lock file in the tree of each branch and tag
 * tip (or of every commit). Each distinct file is read once, with a size cap;
 * anything unreadable or past a cap stops gc with a one-line error.
 */
export async function gitRoots (root: string, scope: GcScope, signal?: AbortSignal): Promise<CID[]> {
  const trees = [...new Set(await commitsOf(root, scope))]
  const blobs = new Map<string, { path: string, size: number, rev: string }>()
  for (const tree of trees) {
    signal?.throwIfAborted()
    const listing = await git(root, ['ls-tree', '-r', '-l', '-z', tree], `the files of ${tree}`)
    for (const entry of listing.split('\0')) {
      const tab = entry.indexOf('\t')
      if (tab < 0) continue
      const [, type, oid, size] = entry.slice(0, tab).split(/\s+/)
      const path = entry.slice(tab + 1)
      if (type !== 'blob' || !(path.endsWith(POINTER_SUFFIX) || basename(path) === LOCK_FILE) || blobs.has(oid)) continue
      blobs.set(oid, { path, size: Number(size), rev: tree.replace(/\^\{tree\}$/, '') })
      if (blobs.size > MAX_GIT_FILES) throw new GcRootsError(`${root}: more than ${MAX_GIT_FILES} distinct pointer and lock files in its history, more than gc reads: nothing was removed; run \`mlp gc --workspace\``)
    }
  }
  const cids: CID[] = []
  for (const [oid, b] of blobs) {
    signal?.throwIfAborted()
    const where = `${root}: ${b.rev}:${b.path}`
    const isLock = basename(b.path) === LOCK_FILE
    const cap = isLock ? MAX_GIT_LOCK_BYTES : MAX_POINTER_BYTES
    if (b.size > cap) throw new GcRootsError(`${where} is ${b.size} bytes, over the ${cap} gc reads: nothing was removed; run \`mlp gc --workspace\``)
    const text = await git(root, ['cat-file', 'blob', oid], where)
    if (isLock) cids.push(...lockCids(text, where))
    else {
      try {
        cids.push(...parsePointer(text, where).outs.map((o) => CID.parse(o.cid)))
      } catch (err) {
        throw new GcRootsError(`${(err as Error).message}: nothing was removed; fix the pointer file on that branch or run \`mlp gc --workspace\``, { cause: err })
      }
    }
  }
  return cids
}
