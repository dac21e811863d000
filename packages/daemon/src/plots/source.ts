import { execFile } from 'node:child_process'
import { closeSync, constants as fsConstants, fstatSync, openSync, readSync, realpathSync } from 'node:fs'
import { dirname, join, normalize, relative, sep } from 'node:path'
import { CID } from 'multiformats/cid'
import { parse as parseYaml } from 'yaml'
import { PlotError, RevisionDataMissingError, type PlotRevision } from '@mlp/proto'
import { checkInsideProject } from '../pipeline/contained.js'
import { MAX_PIPELINE_FILE_BYTES } from '../pipeline/file-size.js'
import type { LockFile } from '../pipeline/lock.js'
import type { ProjectPipeline } from '../pipeline/project-pipeline.js'
import type { Store } from '../store/index.js'
import { parsePointer, POINTER_SUFFIX } from '../tracking/pointers.js'
import { MAX_PLOT_FILE_BYTES } from './constants.js'

// Where a plot's data file is read at a revision: the workspace reads the
// file; a commit reads it from git when git tracks it, else from the store
// through the content id that commit's mlp.lock (or pointer file) records,
// fetched from peers when this machine lacks it.

/** What reading plot data needs from the daemon. */
export interface PlotsComponents {
  store: Store
  /** Fetches a DAG from peers into the store; absent: only what the store holds is read. */
  fetch?: (cid: CID, signal?: AbortSignal) => Promise<void>
}

/**
 * A data file a revision does not have (a plot added since, a log not made
 * yet): `plots diff` leaves that revision out of the plot rather than
 * failing. Data a revision records but no peer gives is not this: that is a
 * `RevisionDataMissingError`.
 */
export class DataAbsentError extends PlotError {}

function tooLarge (what: string, bytes?: number): Error {
  const size = bytes == null ? 'over' : `${(bytes / 1024 / 1024).toFixed(1)} MiB, over`
  return new PlotError(`${what}: ${size} the ${MAX_PLOT_FILE_BYTES / 1024 / 1024} MiB mlp reads in a plot data file`)
}

/** Folders of the project that hold no plot data: git's and mlp's own (config, credentials, keys). */
const PRIVATE_FOLDERS = ['.git', '.mlp']

/**
 * A workspace file's text: inside the project (symlinks resolved), not in
 * `.git/` or `.mlp/`, a regular file, at most {@link MAX_PLOT_FILE_BYTES}.
 */
export function readWorkspaceFile (root: string, file: string, what: string): string {
  let fd: number
  try {
    const real = checkInsideProject(root, file, 'plot data')
    // a committed `g.yaml -> .git/config` stays inside the project, and is still no plot data
    const top = relative(realpathSync(root), real).split(sep)[0]
    if (PRIVATE_FOLDERS.includes(top)) throw new PlotError(`${what}: leads into ${top}/, which holds no plot data: refused`)
    // O_NONBLOCK: a FIFO opened plainly blocks the daemon until a writer comes; this
    // open returns at once and the check below refuses it. The path is already real.
    fd = openSync(real, fsConstants.O_RDONLY | fsConstants.O_NONBLOCK | fsConstants.O_NOFOLLOW)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new DataAbsentError(`${what}: not in the workspace: run \`mlp repro\` (or \`mlp checkout\`/\`mlp pull\`) to make it`)
    throw err
  }
  try {
    const st = fstatSync(fd)
    if (!st.isFile()) throw new PlotError(`${what}: not a regular file`)
    if (st.size > MAX_PLOT_FILE_BYTES) throw tooLarge(what, st.size)
    // read at most one byte past the cap, whatever st_size said
    const buf = Buffer.allocUnsafe(Math.min(st.size, MAX_PLOT_FILE_BYTES) + 1)
    let n = 0
    for (let r = -1; r !== 0 && n < buf.length;) {
      r = readSync(fd, buf, n, buf.length - n, null)
      n += r
    }
    if (n > MAX_PLOT_FILE_BYTES) throw tooLarge(what)
    return buf.subarray(0, n).toString('utf8')
  } finally {
    closeSync(fd)
  }
}

/** A blob at `commit:path` from git, at most `max` bytes; undefined when git has no such file there. */
export async function gitBlob (root: string, commit: string, path: string, max: number, what: string): Promise<string | undefined> {
  return await new Promise((resolve, reject) => {
    execFile('git', ['cat-file', 'blob', `${commit}:${path}`], { cwd: root, maxBuffer: max + 1, env: { ...process.env, GIT_OPTIONAL_LOCKS: '0' } }, (err, stdout) => {
      if ((err as { code?: string } | null)?.code === 'ERR_CHILD_PROCESS_STDIO_MAXBUFFER') reject(tooLarge(what))
      else resolve(err == null ? stdout : undefined)
    })
  })
}

/**
 * A revision to read data at: a commit, the workspace, or an experiment (its
 * base commit, with the lock texts its record carries: its outs are read
 * through those, from the store or from peers, and anything else from the
 * base commit).
 */
export interface ReadRevision extends PlotRevision {
  /** An experiment's locks, by lock path from the project root (a teammate's record: hostile, read as any committed lock). */
  locks?: Array<{ path: string, text: string }>
}

/** A tracked output at a commit: its path from the root and content id. */
interface TrackedOut {
  path: string
  cid: string
  /** Where it is recorded, for messages (`mlp.lock` stage `train`, `data.csv.mlp`). */
  source: string
}

/** Reads data files at one revision; each file is read once. */
export class RevisionReader {
  private readonly texts = new Map<string, Promise<string>>()
  private lockOuts?: Promise<TrackedOut[]>

  constructor (
    private readonly c: PlotsComponents,
    private readonly root: string,
    private readonly pipeline: ProjectPipeline | undefined,
    readonly revision: ReadRevision,
    private readonly signal?: AbortSignal
  ) {}

  /** The text of `file` (from the project root) at this revision. */
  async read (file: string): Promise<string> {
    let text = this.texts.get(file)
    if (text == null) {
      text = this.load(file)
      this.texts.set(file, text)
    }
    return await text
  }

  /** Drops the text of `file` once it is parsed: a page keeps the tables, not megabytes of text beside them. */
  forget (file: string): void {
    this.texts.delete(file)
  }

  private async load (file: string): Promise<string> {
    const what = `${file} at ${this.revision.rev}`
    const commit = this.revision.commit
    if (commit == null) return readWorkspaceFile(this.root, file, what)
    // an experiment's outs differ from its base commit's: its own locks say where they are
    if (this.revision.locks != null) {
      const out = await this.trackedOut(file)
      if (out != null) return await this.fromStore(out, file, what)
    }
    const fromGit = await gitBlob(this.root, commit, file, MAX_PLOT_FILE_BYTES, what)
    if (fromGit != null) return fromGit
    const out = await this.trackedOut(file)
    if (out == null) throw new DataAbsentError(`${what}: no such file: git does not hold it at ${commit.slice(0, 10)}, and no mlp.lock out or pointer file of that commit covers it`)
    return await this.fromStore(out, file, what)
  }

  /** The output of this commit's locks (else pointer files) that holds `file`: the deepest one. */
  private async trackedOut (file: string): Promise<TrackedOut | undefined> {
    const holds = (o: TrackedOut): boolean => o.path === file || file.startsWith(`${o.path}/`)
    const fromLocks = (await (this.lockOuts ??= this.readLockOuts())).filter(holds).sort((a, b) => b.path.length - a.path.length)[0]
    if (fromLocks != null) return fromLocks
    // a pointer file beside the file or one of its folders (`mlp add eval/plots` writes eval/plots.mlp)
    const parts = file.split('/')
    for (let i = parts.length; i > 0; i--) {
      const pointerPath = `${parts.slice(0, i).join('/')}${POINTER_SUFFIX}`
      const text = await gitBlob(this.root, this.revision.commit as string, pointerPath, MAX_PIPELINE_FILE_BYTES, `${pointerPath} at ${this.revision.rev}`)
      if (text == null) continue
      const dir = parts.slice(0, i - 1).join('/')
      const found = parsePointer(text, `${pointerPath} at ${this.revision.rev}`).outs
        .map((o) => ({ path: dir === '' ? o.path : `${dir}/${o.path}`, cid: o.cid, source: pointerPath }))
        .find(holds)
      if (found != null) return found
    }
    return undefined
  }

  /** Every out of every lock file of the project at this commit, with paths from the root. */
  private async readLockOuts (): Promise<TrackedOut[]> {
    const outs: TrackedOut[] = []
    for (const unit of this.pipeline?.units ?? []) {
      const lockRel = relative(this.root, unit.lockFile).split(sep).join('/')
      const what = `${lockRel} at ${this.revision.rev}`
      // an experiment's lock is matched to a pipeline file of this workspace by its path, never opened by it
      const text = this.revision.locks != null
        ? this.revision.locks.find((l) => l.path === lockRel)?.text
        : await gitBlob(this.root, this.revision.commit as string, lockRel, MAX_PIPELINE_FILE_BYTES, what)
      if (text == null) continue
      let lock: LockFile | null
      try {
        lock = parseYaml(text) as LockFile | null
      } catch (err) {
        throw new PlotError(`${what}: not valid YAML: ${(err as Error).message.split('\n')[0]}`)
      }
      for (const [name, entry] of Object.entries(lock?.stages ?? {})) {
        // an out's path is relative to its stage's wdir: the workspace's stage of that name knows it
        const stage = this.pipeline?.stages.find((s) => this.pipeline?.unitOf.get(s.name)?.unit === unit && this.pipeline?.unitOf.get(s.name)?.local === name)
        const wdir = stage?.wdir ?? dirname(unit.rel)
        for (const o of Array.isArray(entry?.outs) ? entry.outs : []) {
          if (typeof o?.path !== 'string' || typeof o.cid !== 'string') continue
          const path = normalize(join(wdir, o.path)).split(sep).join('/').replace(/\/$/, '')
          if (path.startsWith('..') || path.startsWith('/')) continue
          outs.push({ path, cid: o.cid, source: `${lockRel} stage '${name}'` })
        }
      }
    }
    return outs
  }

  /** The file inside a tracked output, from the store; blocks it lacks are fetched from peers once. */
  private async fromStore (out: TrackedOut, file: string, what: string): Promise<string> {
    let root: CID
    try {
      root = CID.parse(out.cid)
    } catch {
      throw new PlotError(`${what}: ${out.source} records '${out.cid}', which is not a content id`)
    }
    const inside = file === out.path ? [] : file.slice(out.path.length + 1).split('/')
    try {
      return await this.readStored(root, inside, what)
    } catch (err) {
      if ((err as Error).name !== 'BlockNotFoundError') throw err
    }
    const missing = `${what}: its data (${out.path}, ${out.cid} in ${out.source}) is not on this machine`
    if (this.c.fetch == null) throw new RevisionDataMissingError(`${missing}: fetch it with \`mlp fetch ${out.cid}\``)
    try {
      await this.c.fetch(root, this.signal)
    } catch (err) {
      if ((err as Error).name === 'AbortError') throw err
      throw new RevisionDataMissingError(`${missing} and no peer gave it (${(err as Error).message.split('\n')[0]}): start a daemon that holds it, or \`mlp repro\` at ${this.revision.rev}`, { cause: err })
    }
    return await this.readStored(root, inside, what)
  }

  private async readStored (root: CID, inside: string[], what: string): Promise<string> {
    const exporter = this.c.store.exporter
    let cid = root
    for (const name of inside) {
      const child = (await exporter.list(cid)).find((e) => e.name === name)
      if (child == null) throw new DataAbsentError(`${what}: no such file in that revision's output`)
      cid = CID.parse(child.cid)
    }
    const d = await exporter.describe(cid)
    if (d.kind !== 'file') throw new PlotError(`${what}: a ${d.kind === 'dir' ? 'directory' : d.kind}, not a data file`)
    if (d.size > MAX_PLOT_FILE_BYTES) throw tooLarge(what, d.size)
    const parts: Uint8Array[] = []
    let n = 0
    for await (const chunk of exporter.file(cid, this.signal)) {
      n += chunk.length
      if (n > MAX_PLOT_FILE_BYTES) throw tooLarge(what)
      parts.push(chunk)
    }
    return Buffer.concat(parts).toString('utf8')
  }
}
