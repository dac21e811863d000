import { open, rename, rm, writeFile } from 'node:fs/promises'
import { LineCounter, parseDocument, stringify } from 'yaml'
import { PointerFileError } from '@mlp/proto'
import { CID } from 'multiformats/cid'
import { reservedPathProblem } from '../pipeline/reserved-paths.js'
import { relativePathProblem } from '../store/path-rules.js'

/** Suffix of pointer files. */
export const POINTER_SUFFIX = '.mlp'

/**
 * Largest pointer file read (1 MiB): a real one is a few hundred bytes per
 * out, and parsing a 50 MB one held the daemon's API for most of a minute.
 */
export const MAX_POINTER_BYTES = 1024 * 1024

/** One tracked output in a pointer file. */
export interface PointerOut {
  /** Relative to the pointer file's directory; a plain name for `mlp add`. */
  path: string
  cid: string
  size: number
  /** Files below a directory; absent for a single file. */
  nfiles?: number
}

/** A parsed `<path>.mlp` file. */
export interface Pointer {
  outs: PointerOut[]
}

/**
 * Rejects a path that is not a plain relative path inside the directory the
 * pointer file (or lock file) sits in: empty, `.`, absolute, a `..`, `.git`
 * (any spelling git refuses) or otherwise unsafe component (store/path-rules.ts).
 */
export function checkRelativePath (path: string, where: string): void {
  const problem = relativePathProblem(path)
  if (problem != null) throw new PointerFileError(`${where}: path ${problem}: it must be relative and stay inside the project`)
}

/** Parses pointer file text; errors name the file and line. */
export function parsePointer (text: string, file: string): Pointer {
  const lines = new LineCounter()
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false })
  if (doc.errors.length > 0) {
    const e = doc.errors[0]
    throw new PointerFileError(`${file}:${e.linePos?.[0].line ?? 1}: not valid YAML: ${e.message.split('\n')[0]}`)
  }
  const value = doc.toJS() as unknown
  const at = (path: Array<string | number>): string => {
    const node = doc.getIn(path, true) as { range?: [number, number, number] } | undefined
    return node?.range != null ? `${file}:${lines.linePos(node.range[0]).line}` : file
  }
  if (value == null || typeof value !== 'object' || !Array.isArray((value as Pointer).outs)) {
    throw new PointerFileError(`${file}: expected a mapping with an 'outs' list`)
  }
  const outs = (value as Pointer).outs
  if (outs.length === 0) throw new PointerFileError(`${at(['outs'])}: 'outs' is empty`)
  outs.forEach((out, i) => {
    const where = at(['outs', i])
    if (out == null || typeof out !== 'object') throw new PointerFileError(`${where}: each out must be a mapping with path, cid and size`)
    for (const key of Object.keys(out)) {
      if (!['path', 'cid', 'size', 'nfiles'].includes(key)) throw new PointerFileError(`${at(['outs', i, key])}: unknown key '${key}' (known: path, cid, size, nfiles)`)
    }
    if (typeof out.path !== 'string') throw new PointerFileError(`${where}: 'path' must be a string`)
    checkRelativePath(out.path, where)
    // a crafted pointer must not make pull or checkout write a pipeline file or lock
    const reserved = reservedPathProblem(out.path)
    if (reserved != null) throw new PointerFileError(`${where}: path ${reserved}`)
    if (typeof out.cid !== 'string') throw new PointerFileError(`${where}: 'cid' must be a string`)
    try {
      CID.parse(out.cid)
    } catch {
      throw new PointerFileError(`${at(['outs', i, 'cid'])}: '${out.cid}' is not a content id`)
    }
    if (!Number.isSafeInteger(out.size) || out.size < 0) throw new PointerFileError(`${at(['outs', i, 'size'])}: 'size' must be a non-negative integer`)
    if (out.nfiles != null && (!Number.isSafeInteger(out.nfiles) || out.nfiles < 0)) throw new PointerFileError(`${at(['outs', i, 'nfiles'])}: 'nfiles' must be a non-negative integer`)
  })
  return { outs }
}

/** Reads and validates a pointer file: a regular file of at most {@link MAX_POINTER_BYTES}. */
export async function readPointer (file: string): Promise<Pointer> {
  let text: string
  try {
    const fh = await open(file, 'r')
    try {
      const st = await fh.stat()
      // fstat of what was opened: a FIFO or /dev/zero named *.mlp would never end
      if (!st.isFile()) throw new PointerFileError(`${file} is not a regular file`)
      if (st.size > MAX_POINTER_BYTES) throw new PointerFileError(`${file} is ${st.size} bytes: pointer files are at most ${MAX_POINTER_BYTES} bytes`)
      const buf = Buffer.alloc(MAX_POINTER_BYTES + 1)
      let n = 0
      for (let r = 1; r > 0 && n < buf.length;) {
        r = (await fh.read(buf, n, buf.length - n, n)).bytesRead
        n += r
      }
      if (n > MAX_POINTER_BYTES) throw new PointerFileError(`${file} grew past ${MAX_POINTER_BYTES} bytes while being read`)
      text = buf.subarray(0, n).toString('utf8')
    } finally {
      await fh.close()
    }
  } catch (err) {
    if (err instanceof PointerFileError) throw err
    throw new PointerFileError(`cannot read ${file}: ${(err as Error).message}`, { cause: err })
  }
  return parsePointer(text, file)
}

/** Writes a pointer file atomically (temp file, then rename). */
export async function writePointer (file: string, pointer: Pointer): Promise<void> {
  const outs = pointer.outs.map((o) => (o.nfiles == null ? { path: o.path, cid: o.cid, size: o.size } : { path: o.path, cid: o.cid, size: o.size, nfiles: o.nfiles }))
  const tmp = `${file}.tmp`
  // a stale temp name may be a symlink planted by a checked-out DAG: remove it, then create anew ('wx' never follows one)
  await rm(tmp, { force: true })
  await writeFile(tmp, stringify({ outs }), { flag: 'wx' })
  await rename(tmp, file)
}
