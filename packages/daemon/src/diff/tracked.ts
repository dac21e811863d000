import { execFile } from 'node:child_process'
import { posix } from 'node:path'
import { parse } from 'yaml'
import { CID } from 'multiformats/cid'
import { PipelineError } from '../pipeline/errors.js'
import { readLock } from '../pipeline/lock.js'
import { loadProjectPipeline } from '../pipeline/project-pipeline.js'
import { findPointers } from '../tracking/discover.js'
import { LOCK_FILE, MAX_GIT_LOCK_BYTES } from '../tracking/git-roots.js'
import { checkRelativePath, MAX_POINTER_BYTES, parsePointer, POINTER_SUFFIX, readPointer } from '../tracking/pointers.js'
import { MAX_TRACKING_FILES } from './constants.js'

/** A tracked output as a pointer file or lock file records it, its path relative to the project root. */
export interface RecordedOut {
  path: string
  cid: CID
  size: number
  /** The pointer or lock file that records it, relative to the project root. */
  source: string
}

/** Largest `git ls-tree` answer read. */
const MAX_LISTING_OUTPUT = 64 * 1024 * 1024

async function git (root: string, args: string[], maxBuffer: number): Promise<string> {
  return await new Promise((resolve, reject) => {
    execFile('git', args, { cwd: root, maxBuffer, env: { ...process.env, GIT_TERMINAL_PROMPT: '0', GIT_OPTIONAL_LOCKS: '0' } }, (err, stdout, stderr) => {
      if (err == null) resolve(stdout)
      else reject(new PipelineError(`git ${args[0]} failed in ${root}: ${(stderr.trim().split('\n')[0] ?? '') || err.message}`, { cause: err }))
    })
  })
}

/**
 * The outs of a lock file's text (paths relative to the project root, as
 * mlp writes them). Everything in it comes from a commit, possibly a
 * teammate's: each path must be a plain relative path, each cid a content
 * id, each size a non-negative integer, or the whole file is refused.
 */
export function lockOuts (text: string, where: string): Array<Omit<RecordedOut, 'source'>> {
  let doc: unknown
  try {
    doc = parse(text)
  } catch (err) {
    throw new PipelineError(`${where}: not valid YAML: ${(err as Error).message.split('\n')[0]}`, { cause: err })
  }
  if (doc == null) return []
  const stages = (doc as { stages?: unknown }).stages
  if (typeof doc !== 'object' || stages == null || typeof stages !== 'object') throw new PipelineError(`${where}: expected 'schema' and 'stages'`)
  const out: Array<Omit<RecordedOut, 'source'>> = []
  for (const [name, entry] of Object.entries(stages as Record<string, { outs?: unknown }>)) {
    const outs = entry?.outs ?? []
    if (!Array.isArray(outs)) throw new PipelineError(`${where}: stage '${name}': 'outs' is not a list`)
    for (const o of outs as Array<{ path?: unknown, cid?: unknown, size?: unknown }>) {
      if (typeof o?.path !== 'string') throw new PipelineError(`${where}: stage '${name}': an out has no path`)
      checkRelativePath(o.path, `${where}: stage '${name}'`)
      let cid: CID
      try {
        cid = CID.parse(String(o.cid))
      } catch (err) {
        throw new PipelineError(`${where}: stage '${name}': '${String(o.cid).slice(0, 80)}' is not a content id`, { cause: err })
      }
      const size = typeof o.size === 'number' && Number.isSafeInteger(o.size) && o.size >= 0 ? o.size : 0
      out.push({ path: o.path, cid, size })
    }
  }
  return out
}

/**
 * The tracked outputs a commit records: the outs of every pointer file and
 * every `mlp.lock` in its tree below the project root. Read from git objects
 * only (nothing of the workspace), each file size-capped before it is read.
 */
export async function outsAtCommit (root: string, commit: string): Promise<RecordedOut[]> {
  // run in the project root, ls-tree lists that folder and names paths relative to it
  const listing = await git(root, ['ls-tree', '-r', '-l', '-z', commit], MAX_LISTING_OUTPUT)
  const files: Array<{ path: string, oid: string, size: number }> = []
  for (const entry of listing.split('\0')) {
    const tab = entry.indexOf('\t')
    if (tab < 0) continue
    const [, type, oid, size] = entry.slice(0, tab).split(/\s+/)
    const path = entry.slice(tab + 1)
    if (type !== 'blob' || !(path.endsWith(POINTER_SUFFIX) || posix.basename(path) === LOCK_FILE)) continue
    files.push({ path, oid, size: Number(size) })
    if (files.length > MAX_TRACKING_FILES) throw new PipelineError(`${commit} has over ${MAX_TRACKING_FILES} pointer and lock files: more than a diff reads`)
  }
  const out: RecordedOut[] = []
  for (const f of files) {
    const where = `${commit.slice(0, 12)}:${f.path}`
    const isLock = posix.basename(f.path) === LOCK_FILE
    const cap = isLock ? MAX_GIT_LOCK_BYTES : MAX_POINTER_BYTES
    if (f.size > cap) throw new PipelineError(`${where} is ${f.size} bytes, over the ${cap} mlp reads`)
    const text = await git(root, ['cat-file', 'blob', f.oid], cap + 1)
    if (isLock) {
      out.push(...lockOuts(text, where).map((o) => ({ ...o, source: f.path })))
    } else {
      const dir = posix.dirname(f.path)
      for (const o of parsePointer(text, where).outs) out.push({ path: posix.normalize(posix.join(dir, o.path)), cid: CID.parse(o.cid), size: o.size, source: f.path })
    }
  }
  return firstOfEach(out)
}

/** The tracked outputs the workspace's pointer and lock files record (their data on disk may differ). */
export async function outsInWorkspace (root: string, signal?: AbortSignal): Promise<RecordedOut[]> {
  const out: RecordedOut[] = []
  for (const pointer of await findPointers(root, signal)) {
    const rel = posix.relative(root, pointer)
    const dir = posix.dirname(rel)
    for (const o of (await readPointer(pointer)).outs) out.push({ path: posix.normalize(posix.join(dir, o.path)), cid: CID.parse(o.cid), size: o.size, source: rel })
  }
  for (const unit of loadProjectPipeline(root)?.units ?? []) {
    const lock = readLock(unit.lockFile)
    const source = posix.relative(root, unit.lockFile)
    for (const entry of Object.values(lock.stages)) {
      for (const o of entry.outs) out.push({ path: posix.normalize(o.path), cid: CID.parse(o.cid), size: o.size, source })
    }
  }
  return firstOfEach(out)
}

/** One out per path: a path both a pointer and a lock name is the same data. */
function firstOfEach (outs: RecordedOut[]): RecordedOut[] {
  const seen = new Set<string>()
  return outs.filter((o) => {
    if (seen.has(o.path)) return false
    seen.add(o.path)
    return true
  })
}
