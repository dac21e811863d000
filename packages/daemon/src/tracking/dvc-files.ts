import { createHash } from 'node:crypto'
import { createReadStream, existsSync } from 'node:fs'
import { open, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { parse } from 'yaml'
import { PathError } from '@mlp/proto'

/** One out (or dep) of a `.dvc` file or a `dvc.lock` stage. */
export interface DvcOut {
  path: string
  /** DVC's md5; a directory's ends in `.dir`. Absent for a dep without a hash (an import's source). */
  md5?: string
  /** DVC 2 and older hashed text files after dos2unix: set when no `hash: md5` says otherwise. */
  legacy: boolean
  cache: boolean
}

/** A parsed `.dvc` file. */
export interface DvcFile {
  outs: DvcOut[]
  /** Folder the out paths are relative to, relative to the `.dvc` file's own folder. */
  wdir: string
  /** Written by `dvc import` or `dvc import-url`: its deps name where the data came from. */
  imported: boolean
  /** A DVC 1 stage file (`cmd:` in a `.dvc` file): not data to import. */
  stage: boolean
}

/** One stage of a `dvc.lock`. */
export interface DvcLockStage {
  cmd: string | string[]
  deps: DvcOut[]
  params: Record<string, Record<string, unknown>>
  outs: DvcOut[]
}

/** One entry of a directory's `.dir` manifest. */
export interface DirEntry {
  md5: string
  relpath: string
}

function outsOf (list: unknown, where: string): DvcOut[] {
  if (list == null) return []
  if (!Array.isArray(list)) throw new PathError(`${where}: expected a list`)
  return list.map((o: Record<string, unknown>) => {
    if (o == null || typeof o !== 'object' || typeof o.path !== 'string') throw new PathError(`${where}: each entry needs a 'path'`)
    const md5 = o.md5 ?? o.checksum
    return { path: o.path, md5: typeof md5 === 'string' ? md5 : undefined, legacy: o.hash !== 'md5', cache: o.cache !== false }
  })
}

/** Parses a `.dvc` file's text; errors name the file. */
export function parseDvcFile (text: string, file: string): DvcFile {
  let v: Record<string, unknown>
  try {
    v = parse(text) as Record<string, unknown>
  } catch (err) {
    throw new PathError(`${file}: not valid YAML: ${(err as Error).message.split('\n')[0]}`)
  }
  if (v == null || typeof v !== 'object') throw new PathError(`${file}: expected a mapping with 'outs'`)
  const deps = Array.isArray(v.deps) ? v.deps : []
  return {
    outs: outsOf(v.outs, file),
    wdir: typeof v.wdir === 'string' ? v.wdir : '.',
    imported: deps.length > 0,
    stage: typeof v.cmd === 'string' || Array.isArray(v.cmd)
  }
}

/** Parses a `dvc.lock`'s text: stage name → entry. Errors name the file. */
export function parseDvcLock (text: string, file: string): Record<string, DvcLockStage> {
  let v: { stages?: Record<string, Record<string, unknown>> } | null
  try {
    v = parse(text)
  } catch (err) {
    throw new PathError(`${file}: not valid YAML: ${(err as Error).message.split('\n')[0]}`)
  }
  if (v == null) return {}
  // DVC 1 lock files had no 'stages' key: the stages were the top level
  const stages = (v.stages ?? v) as Record<string, Record<string, unknown>>
  const out: Record<string, DvcLockStage> = {}
  for (const [name, s] of Object.entries(stages)) {
    if (s == null || typeof s !== 'object' || name === 'schema') continue
    out[name] = {
      cmd: s.cmd as string | string[],
      deps: outsOf(s.deps, `${file}: stage '${name}' deps`),
      params: (s.params ?? {}) as Record<string, Record<string, unknown>>,
      outs: outsOf(s.outs, `${file}: stage '${name}' outs`)
    }
  }
  return out
}

/** Where DVC keeps an md5 in the local cache: the DVC 3 layout first, then DVC 2's; undefined when in neither. */
export function dvcCachePath (root: string, md5: string): string | undefined {
  if (!/^[0-9a-f]{32}(\.dir)?$/.test(md5)) return undefined
  const v3 = join(root, '.dvc', 'cache', 'files', 'md5', md5.slice(0, 2), md5.slice(2))
  if (existsSync(v3)) return v3
  const v2 = join(root, '.dvc', 'cache', md5.slice(0, 2), md5.slice(2))
  return existsSync(v2) ? v2 : undefined
}

/** DVC's test for a text file: no NUL and at most 30% odd bytes in the first 512. */
async function isText (file: string): Promise<boolean> {
  const fh = await open(file, 'r')
  try {
    const buf = Buffer.alloc(512)
    const { bytesRead } = await fh.read(buf, 0, 512, 0)
    const block = buf.subarray(0, bytesRead)
    if (block.length === 0) return true
    if (block.includes(0)) return false
    let odd = 0
    for (const b of block) if (!((b >= 32 && b < 127) || b === 10 || b === 13 || b === 9 || b === 8)) odd++
    return odd / block.length <= 0.3
  } finally {
    await fh.close()
  }
}

/**
 * A file's md5 as DVC recorded it: of the bytes, or for a legacy (DVC 2)
 * entry of a text file, of the bytes with CRLF turned into LF, as DVC 2 did.
 */
export async function dvcFileMd5 (file: string, legacy: boolean): Promise<string> {
  const hash = createHash('md5')
  const dos2unix = legacy && await isText(file)
  let pendingCR = false
  for await (const chunk of createReadStream(file)) {
    let b = chunk as Buffer
    if (!dos2unix) {
      hash.update(b)
      continue
    }
    if (pendingCR) b = Buffer.concat([Buffer.from([13]), b])
    // a CR at the end of a chunk may start a CRLF split across chunks
    pendingCR = b.length > 0 && b[b.length - 1] === 13
    if (pendingCR) b = b.subarray(0, b.length - 1)
    hash.update(Buffer.from(b.toString('latin1').replaceAll('\r\n', '\n'), 'latin1'))
  }
  if (pendingCR) hash.update(Buffer.from([13]))
  return hash.digest('hex')
}

/** Reads and checks a `.dir` manifest from the cache: its own md5 must be the directory's. */
export async function readDirManifest (file: string, md5: string): Promise<DirEntry[]> {
  const bytes = await readFile(file)
  if (createHash('md5').update(bytes).digest('hex') !== md5.replace(/\.dir$/, '')) throw new PathError(`manifest ${md5} in the DVC cache does not match its md5`)
  const list = JSON.parse(bytes.toString('utf8')) as unknown
  if (!Array.isArray(list)) throw new PathError(`manifest ${md5} is not a list`)
  return list.map((e: Record<string, unknown>) => {
    if (typeof e?.md5 !== 'string' || typeof e.relpath !== 'string') throw new PathError(`manifest ${md5}: each entry needs md5 and relpath`)
    return { md5: e.md5, relpath: e.relpath }
  })
}

/** Python's `json.dumps(s)` of a string: non-ASCII as `\uXXXX`. */
function pyString (s: string): string {
  return JSON.stringify(s).replace(/[\u007f-\uffff]/g, (c) => '\\u' + c.charCodeAt(0).toString(16).padStart(4, '0'))
}

/** The md5 DVC gives a directory with these entries: of `json.dumps(sorted entries, sort_keys=True)`, plus `.dir`. */
export function dirMd5 (entries: DirEntry[]): string {
  const sorted = [...entries].sort((a, b) => (a.relpath < b.relpath ? -1 : a.relpath > b.relpath ? 1 : 0))
  const text = '[' + sorted.map((e) => `{"md5": ${pyString(e.md5)}, "relpath": ${pyString(e.relpath)}}`).join(', ') + ']'
  return createHash('md5').update(text).digest('hex') + '.dir'
}
