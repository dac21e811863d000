import { execFile } from 'node:child_process'
import { existsSync, lstatSync } from 'node:fs'
import { copyFile, mkdir, readdir, rename, rm } from 'node:fs/promises'
import { basename, dirname, join, normalize, relative, sep } from 'node:path'
import { PathError, type MigratedOut, type MigrateProblem, type MigrateResult, type MigratedStage } from '@mlp/proto'
import { CID } from 'multiformats/cid'
import { isDeepStrictEqual } from 'node:util'
import type { Store } from '../store/index.js'
import { protectRoots } from '../store/in-flight.js'
import { relativePathProblem } from '../store/path-rules.js'
import { checkInsideProject } from '../pipeline/contained.js'
import { readPipelineText } from '../pipeline/file-size.js'
import { buildGraph, rootPath } from '../pipeline/graph.js'
import { readLock, writeLock, type LockEntry, type LockFile, type LockedPath } from '../pipeline/lock.js'
import { loadProjectPipeline, type PipelineUnit } from '../pipeline/project-pipeline.js'
import { stageParams } from '../pipeline/params.js'
import type { Stage } from '../pipeline/schema.js'
import { stageState, storePath } from '../pipeline/state.js'
import { dirMd5, dvcCachePath, dvcFileMd5, parseDvcFile, parseDvcLock, readDirManifest, type DirEntry, type DvcOut } from './dvc-files.js'
import { ignoreInGit } from './gitignore.js'
import { readPointer, writePointer, type Pointer } from './pointers.js'

/** Most files `git ls-files` may list: a bound on what one migration reads. */
const MAX_LISTED_FILES = 1_000_000

/** Files git tracks in the repository at `root`, `/`-separated. */
async function gitFiles (root: string): Promise<string[]> {
  return await new Promise((resolve, reject) => {
    execFile('git', ['-C', root, 'ls-files', '-z'], { maxBuffer: 256 * 1024 * 1024, env: { ...process.env, GIT_OPTIONAL_LOCKS: '0' } }, (err, stdout) => {
      if (err != null) reject(new PathError(`cannot list the files git tracks in ${root}: ${err.message.split('\n')[0]}`))
      else resolve(stdout.split('\0').filter((f) => f !== '').slice(0, MAX_LISTED_FILES))
    })
  })
}

/** Regular files below `dir`, relative to it with `/`. */
async function listFiles (dir: string, prefix = ''): Promise<string[]> {
  const out: string[] = []
  for (const e of await readdir(join(dir, prefix), { withFileTypes: true })) {
    const rel = prefix === '' ? e.name : `${prefix}/${e.name}`
    if (e.isDirectory()) out.push(...await listFiles(dir, rel))
    else if (e.isFile()) out.push(rel)
  }
  return out
}

/** Where an out was found as DVC recorded it, or why it could not be had. */
type Outcome = { ok: true, from: 'workspace' | 'cache' } | { ok: false, reason: string }

/** The directory's manifest from the cache, or why not. */
async function manifest (root: string, md5: string): Promise<DirEntry[] | string> {
  const file = dvcCachePath(root, md5)
  if (file == null) return `the directory manifest ${md5} is missing from the DVC cache`
  try {
    return await readDirManifest(file, md5)
  } catch (err) {
    return (err as Error).message
  }
}

/** Checks a workspace copy against DVC's md5. */
async function workspaceMatches (root: string, abs: string, out: DvcOut): Promise<string | undefined> {
  const md5 = out.md5 as string
  if (!md5.endsWith('.dir')) {
    if (!lstatSync(abs).isFile()) return 'is not a file, but DVC recorded a file'
    return await dvcFileMd5(abs, out.legacy) === md5 ? undefined : 'md5 mismatch: the workspace copy differs from what DVC recorded'
  }
  if (!lstatSync(abs).isDirectory()) return 'is not a directory, but DVC recorded a directory'
  const files = await listFiles(abs)
  const entries: DirEntry[] = []
  for (const f of files) entries.push({ relpath: f, md5: await dvcFileMd5(join(abs, f), out.legacy) })
  if (dirMd5(entries) === md5) return undefined
  // the manifest, when cached, settles it file by file (DVC may have written it with other formatting)
  const m = await manifest(root, md5)
  if (typeof m !== 'string' && m.length === entries.length && m.every((e) => entries.some((x) => x.relpath === e.relpath && x.md5 === e.md5))) return undefined
  return 'md5 mismatch: the workspace copy differs from what DVC recorded'
}

/** Copies an out from the DVC cache into the workspace, every file checked first; nothing is written on a mismatch. */
async function restoreFromCache (root: string, abs: string, out: DvcOut): Promise<string | undefined> {
  const md5 = out.md5 as string
  const copies: Array<{ from: string, to: string }> = []
  if (!md5.endsWith('.dir')) {
    const file = dvcCachePath(root, md5)
    if (file == null) return 'missing from the workspace and from the DVC cache'
    if (await dvcFileMd5(file, out.legacy) !== md5) return `md5 mismatch: the DVC cache file ${relative(root, file)} is corrupt`
    copies.push({ from: file, to: '' })
  } else {
    const m = await manifest(root, md5)
    if (typeof m === 'string') return m
    for (const e of m) {
      const problem = relativePathProblem(e.relpath)
      if (problem != null) return `manifest ${md5}: path ${problem}`
      const file = dvcCachePath(root, e.md5)
      if (file == null) return `${e.relpath} is missing from the DVC cache`
      if (await dvcFileMd5(file, out.legacy) !== e.md5) return `md5 mismatch: ${e.relpath} in the DVC cache (${relative(root, file)}) is corrupt`
      copies.push({ from: file, to: e.relpath })
    }
  }
  // built beside the target, then renamed: a failure leaves no half-written out
  const tmp = `${abs}.mlp-migrate.tmp`
  await rm(tmp, { recursive: true, force: true })
  await mkdir(dirname(abs), { recursive: true })
  try {
    if (!md5.endsWith('.dir')) await copyFile(copies[0].from, tmp)
    else {
      await mkdir(tmp)
      for (const c of copies) {
        await mkdir(dirname(join(tmp, c.to)), { recursive: true })
        await copyFile(c.from, join(tmp, c.to))
      }
    }
    await rename(tmp, abs)
  } finally {
    await rm(tmp, { recursive: true, force: true })
  }
  return undefined
}

/** Makes a DVC out present in the workspace as DVC recorded it: checked there, else restored from the cache. */
async function bringIn (root: string, rel: string, out: DvcOut): Promise<Outcome> {
  if (out.md5 == null) return { ok: false, reason: 'DVC recorded no md5 for it' }
  try {
    // a committed symlink on the way (`data -> /etc`) must not have the cache written through it
    checkInsideProject(root, rel, 'out')
  } catch (err) {
    return { ok: false, reason: (err as Error).message }
  }
  const abs = join(root, rel)
  if (existsSync(abs)) {
    const problem = await workspaceMatches(root, abs, out)
    return problem == null ? { ok: true, from: 'workspace' } : { ok: false, reason: problem }
  }
  const problem = await restoreFromCache(root, abs, out)
  return problem == null ? { ok: true, from: 'cache' } : { ok: false, reason: problem }
}

/** A project-relative path from a DVC file, or why it is refused. */
function safeRel (base: string, path: string): { rel: string } | { error: string } {
  const rel = normalize(join(base, path)).replace(/\/$/, '')
  const problem = relativePathProblem(rel)
  if (problem != null || rel.startsWith('.mlp/') || rel.startsWith('.dvc/')) return { error: `path ${problem ?? 'is inside .mlp/ or .dvc/'}` }
  return { rel }
}

/** State of a migration in progress. */
interface Run {
  store: Store
  root: string
  outs: MigratedOut[]
  stages: MigratedStage[]
  problems: MigrateProblem[]
  release: Array<() => void>
  signal?: AbortSignal
}

/** Stores a workspace path (or only describes it, for `cache: false`), protected from gc until the migration ends. */
async function store (run: Run, rel: string, cache: boolean): Promise<LockedPath> {
  return await run.store.lock.read(async () => {
    const o = await storePath(run.store, run.root, rel, cache, run.signal)
    run.release.push(protectRoots(run.store.blockstore, [CID.parse(o.cid)]))
    return o
  })
}

/** Migrates one `.dvc` file to a `.mlp` pointer file beside it. */
async function migrateDvcFile (run: Run, dvcRel: string): Promise<void> {
  const abs = join(run.root, dvcRel)
  let parsed
  try {
    parsed = parseDvcFile(readPipelineText(abs, run.root), dvcRel)
  } catch (err) {
    run.problems.push({ path: dvcRel, source: dvcRel, reason: (err as Error).message })
    return
  }
  if (parsed.stage) {
    run.problems.push({ path: dvcRel, source: dvcRel, reason: 'a DVC 1 stage file: move its stage to dvc.yaml, then migrate again' })
    return
  }
  const base = join(dirname(dvcRel), parsed.wdir)
  const pointerFile = abs.replace(/\.dvc$/, '.mlp')
  const pointer: Pointer = { outs: [] }
  const done: MigratedOut[] = []
  for (const out of parsed.outs.filter((o) => o.cache)) {
    const safe = safeRel(base, out.path)
    if ('error' in safe) {
      run.problems.push({ path: out.path, source: dvcRel, reason: safe.error })
      return
    }
    const rel = safe.rel
    const got = await bringIn(run.root, rel, out)
    if (!got.ok) {
      const reason = parsed.imported && /missing/.test(got.reason) ? `written by \`dvc import\`/\`import-url\` and its data is absent (${got.reason}): \`dvc update\` or \`dvc pull\` it, then migrate again` : got.reason
      run.problems.push({ path: rel, source: dvcRel, reason })
      return
    }
    const o = await store(run, rel, true)
    const path = relative(dirname(pointerFile), join(run.root, rel))
    pointer.outs.push({ path, cid: o.cid, size: o.size, nfiles: o.nfiles })
    done.push({ path: rel, source: dvcRel, from: got.from, cid: o.cid, state: 'imported' })
  }
  if (pointer.outs.length === 0) return
  let before: Pointer | undefined
  try {
    before = existsSync(pointerFile) ? await readPointer(pointerFile) : undefined
  } catch {}
  const same = before != null && isDeepStrictEqual(before.outs.map((o) => ({ ...o, nfiles: o.nfiles })), pointer.outs.map((o) => ({ ...o, nfiles: o.nfiles })))
  if (!same) await writePointer(pointerFile, pointer)
  for (const p of pointer.outs) await ignoreInGit(join(dirname(pointerFile), p.path))
  for (const d of done) run.outs.push({ ...d, state: same && d.from === 'workspace' ? 'unchanged' : 'imported' })
}

/** Why the DVC lock entry does not describe the stage as it is now, or undefined. */
async function lockProblem (run: Run, stage: Stage, entry: ReturnType<typeof parseDvcLock>[string]): Promise<string | undefined> {
  const cmd = Array.isArray(entry.cmd) ? entry.cmd : [entry.cmd]
  if (!isDeepStrictEqual(cmd, stage.cmd)) return `cmd in dvc.lock (${JSON.stringify(entry.cmd)}) differs from dvc.yaml as mlp renders it (${JSON.stringify(stage.cmd)})`
  let params
  try {
    params = stageParams(run.root, stage)
  } catch (err) {
    return (err as Error).message
  }
  for (const [file, values] of Object.entries(params)) {
    for (const [k, v] of Object.entries(values)) {
      if (!isDeepStrictEqual(entry.params[file]?.[k], v)) return `param ${k} changed since dvc.lock`
    }
  }
  const declared = new Set(stage.deps.map((d) => rootPath(stage, d)))
  for (const d of entry.deps) {
    const rel = rootPath(stage, d.path)
    if (!declared.has(rel)) return `dep ${rel} is in dvc.lock but no longer in dvc.yaml`
    if (d.md5 == null || !existsSync(join(run.root, rel))) return `dep ${rel} is missing`
    const problem = await workspaceMatches(run.root, join(run.root, rel), d)
    if (problem != null) return `dep ${rel} changed since dvc.lock`
  }
  if (entry.deps.length !== declared.size) return 'dvc.yaml declares deps dvc.lock does not record'
  return undefined
}

/**
 * Migrates the stages of every `dvc.yaml` mlp reads (the root's and those
 * git tracks in subfolders, see `loadProjectPipeline`) whose `dvc.lock`
 * entries, beside each file, are up to date into the `mlp.lock` beside it.
 * The files form one graph: a subfolder's stage may depend on the root's out.
 */
async function migrateLock (run: Run): Promise<void> {
  const project = loadProjectPipeline(run.root)
  if (project == null) return
  // each file's dvc.lock, keyed by stage name inside that file; absent lock: nothing to migrate for it
  const dvcLocks = new Map<string, { rel: string, entries: ReturnType<typeof parseDvcLock> }>()
  for (const unit of project.units) {
    const dvcLock = join(dirname(unit.file), 'dvc.lock')
    if (!existsSync(dvcLock)) continue
    const rel = relative(run.root, dvcLock).split(sep).join('/')
    if (basename(unit.file) !== 'dvc.yaml') {
      run.problems.push({ path: rel, source: rel, reason: `${basename(unit.file)} is the pipeline mlp reads here, not dvc.yaml: dvc.lock does not describe it` })
      continue
    }
    // size-bounded, and refused behind a symlink out of the project, like every pipeline file
    const entries = parseDvcLock(readPipelineText(dvcLock, run.root), rel)
    dvcLocks.set(unit.file, { rel, entries })
    const names = new Set(unit.pipeline.stages.map((s) => project.unitOf.get(s.name)?.local))
    for (const name of Object.keys(entries)) {
      if (!names.has(name)) run.problems.push({ path: name, source: rel, reason: `stage '${name}' is not in ${unit.rel}` })
    }
  }
  if (dvcLocks.size === 0) return
  const graph = buildGraph(project.stages, project.file, run.root)
  const locks = new Map(project.units.map((u) => [u.file, readLock(u.lockFile)]))
  const changed = new Set<PipelineUnit>()
  const byName = new Map(project.stages.map((s) => [s.name, s]))
  // upstream first: a stage's deps are its upstream's outs, restored before they are checked
  for (const name of graph.order) {
    const stage = byName.get(name) as Stage
    const { unit, local } = project.unitOf.get(name) as { unit: PipelineUnit, local: string }
    const dvc = dvcLocks.get(unit.file)
    const entry = dvc?.entries[local]
    if (dvc == null || entry == null) continue
    const lock = locks.get(unit.file) as LockFile
    const source = `${dvc.rel}:${local}`
    let failed = false
    for (const o of entry.outs) {
      const rel = rootPath(stage, o.path)
      const decl = stage.outs.find((x) => rootPath(stage, x.path) === rel)
      if (decl == null) {
        run.problems.push({ path: rel, source, reason: 'out is in dvc.lock but not in the stage: the stage is left for `mlp repro`' })
        failed = true
        continue
      }
      const got = await bringIn(run.root, rel, o)
      if (!got.ok) {
        run.problems.push({ path: rel, source, reason: `${got.reason}: the stage is left for \`mlp repro\`` })
        failed = true
      } else if (got.from === 'cache') run.outs.push({ path: rel, source, from: 'cache', cid: (await store(run, rel, decl.cache)).cid, state: 'imported' })
    }
    if (failed) continue
    const problem = await lockProblem(run, stage, entry)
    if (problem != null) {
      run.problems.push({ path: name, source, reason: `${problem}: the stage is left for \`mlp repro\`` })
      continue
    }
    const state = await stageState(run.store, run.root, stage, undefined, run.signal)
    const outs: LockedPath[] = []
    for (const o of stage.outs) {
      const rel = rootPath(stage, o.path)
      outs.push(await store(run, rel, o.cache))
      if (o.cache) await ignoreInGit(join(run.root, rel))
    }
    const next: LockEntry = { cmd: stage.cmd.length === 1 ? stage.cmd[0] : stage.cmd, deps: state.deps, params: state.params, outs }
    const prev = lock.stages[local]
    const same = prev != null && isDeepStrictEqual({ cmd: prev.cmd, deps: prev.deps, params: prev.params, outs: prev.outs }, next)
    if (!same) {
      lock.stages[local] = { ...next, ...(prev?.ran_on != null ? { ran_on: prev.ran_on } : {}) }
      changed.add(unit)
    }
    run.stages.push({ stage: name, state: same ? 'unchanged' : 'written' })
  }
  for (const unit of changed) {
    const order = graph.order.filter((n) => project.unitOf.get(n)?.unit === unit).map((n) => project.unitOf.get(n)?.local as string)
    await writeLock(unit.lockFile, locks.get(unit.file) as LockFile, order)
  }
}

/**
 * `mlp migrate`: brings a DVC project's data into the store. Every `.dvc`
 * file git tracks becomes a `.mlp` pointer file beside it, and every stage
 * whose `dvc.lock` entry is up to date gets its `mlp.lock` entry, so nothing
 * reruns. Data comes from the workspace, else from DVC's local cache, each
 * file checked against DVC's md5 first; what cannot be had is reported, not
 * imported. The DVC files stay as they are; a second run changes nothing.
 */
export async function migrateProject (store: Store, root: string, signal?: AbortSignal): Promise<MigrateResult> {
  if (!existsSync(join(root, '.dvc'))) throw new PathError(`${root} is not a DVC repository (no .dvc/ folder): nothing to migrate`)
  const run: Run = { store, root, outs: [], stages: [], problems: [], release: [], signal }
  try {
    const files = await gitFiles(root)
    for (const f of files.filter((x) => x.endsWith('.dvc') && basename(x) !== '.dvc')) {
      signal?.throwIfAborted()
      await migrateDvcFile(run, f)
    }
    await migrateLock(run)
    // a dvc.lock whose dvc.yaml mlp does not read (untracked, or inside an out) is named, not silently skipped
    const read = new Set((loadProjectPipeline(root)?.units ?? []).map((u) => join(dirname(u.rel), 'dvc.lock')))
    for (const f of files.filter((x) => basename(x) === 'dvc.lock' && !read.has(x))) {
      run.problems.push({ path: f, source: f, reason: 'no dvc.yaml that git tracks beside it outside an out: not migrated' })
    }
    await store.blockstore.commit()
  } finally {
    for (const release of run.release) release()
  }
  const changed = run.outs.some((o) => o.state !== 'unchanged') || run.stages.some((s) => s.state !== 'unchanged')
  return { root, outs: run.outs, stages: run.stages, problems: run.problems, changed }
}
