import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { PipelineFileError } from '@mlp/proto'
import { bareStage, cwdFolder, namesFile, noStageHere, targetFromCwd } from './address.js'
import { candidateFiles, gitTracks, insideOuts, PIPELINE_NAMES } from './collect.js'
import { PipelineError } from './errors.js'
import { MAX_STAGES } from './expansion.js'
import { rootPath } from './graph.js'
import { lockPathFor } from './lock.js'
import { reservedPathProblem } from './reserved-paths.js'
import { rootPointerOf } from './root-pointers.js'
import { loadPipeline, type Pipeline, type Stage } from './schema.js'

export { targetFromCwd } from './address.js'

/** One pipeline file of a project, loaded. */
export interface PipelineUnit {
  /** Absolute path of the file. */
  file: string
  /** Its path relative to the project root, `/`-separated (`dvc.yaml`, `train/dvc.yaml`). */
  rel: string
  /** Its lock file, beside it (`train/mlp.lock`), as DVC keeps a dvc.lock beside each dvc.yaml. */
  lockFile: string
  pipeline: Pipeline
}

/**
 * All pipeline files of a project, forming one DAG. Stage names are DVC's
 * addresses: `stage` in the root file, `sub/dvc.yaml:stage` in others.
 */
export interface ProjectPipeline {
  units: PipelineUnit[]
  /** Every stage of every file, in file order. */
  stages: Stage[]
  /** The root file when there is one, else the first: where whole-pipeline errors point. */
  file: string
  /** Which file each stage (by address) comes from, and its name inside that file (its key in the file's lock). */
  unitOf: Map<string, { unit: PipelineUnit, local: string }>
}

/** A stage's name inside its own file: the address without `sub/dvc.yaml:`. */
function localName (address: string): string {
  const colon = address.lastIndexOf(':')
  return colon < 0 ? address : address.slice(colon + 1)
}

/** Project-relative paths of the outs of `stages`. */
function outsOf (stages: Stage[]): string[] {
  return stages.flatMap((s) => s.outs.map((o) => rootPath(s, o.path)))
}

/**
 * Reads every pipeline file of the project at `root` as DVC does: the root's
 * and those git tracks in subfolders, never one inside a stage's out or a
 * pointer-tracked folder (checked before the file is parsed, so a dataset
 * that carries a dvc.yaml is never read as code); see {@link candidateFiles}.
 * Undefined when the project has none, or reads none (every file is
 * data). A root file a pointer tracks, or a stage out that is a pipeline
 * or lock file, is a {@link PipelineError}. With one file this is exactly
 * `loadPipeline(file)`. The stages of all files together are at most
 * {@link MAX_STAGES}.
 */
export function loadProjectPipeline (root: string): ProjectPipeline | undefined {
  const candidates = candidateFiles(root)
  if (candidates.length === 0) return undefined
  let units: PipelineUnit[] = []
  const outs = new Set<string>()
  let count = 0
  for (const rel of candidates) {
    // the root's own file is always read; a subfolder's only when no out read so far holds it
    if (rel.includes('/') && insideOuts(root, rel, outs) != null) continue
    const file = join(root, rel)
    if (!rel.includes('/')) refuseTrackedRootFile(root, rel)
    const pipeline = rel.includes('/') ? loadPipeline(file, { root }) : loadPipeline(file)
    count += pipeline.stages.length
    if (count > MAX_STAGES) throw new PipelineError(`${file}: the project's pipeline files expand to over ${MAX_STAGES} stages; mlp allows at most ${MAX_STAGES} stages per pipeline`)
    for (const o of outsOf(pipeline.stages)) outs.add(o)
    units.push({ file, rel, lockFile: lockPathFor(file), pipeline })
  }
  // a file sorted before the stage whose out holds it (a deeper file's `wdir: ..`) is dropped now; each pass drops one at least
  for (let pass = 0; pass < units.length; pass++) {
    const kept = units.filter((u) => !u.rel.includes('/') || insideOuts(root, u.rel, new Set(units.filter((x) => x !== u).flatMap((x) => outsOf(x.pipeline.stages)))) == null)
    if (kept.length === units.length) break
    units = kept
  }
  // every file excluded (all inside pointer-tracked folders): a project with no pipeline, whose data still checks out
  if (units.length === 0) return undefined
  const unitOf = new Map<string, { unit: PipelineUnit, local: string }>()
  const stages: Stage[] = []
  for (const unit of units) {
    for (const s of unit.pipeline.stages) {
      // errors about a stage name its own file once there are several
      if (units.length > 1) s.file = unit.file
      refuseReservedOuts(s, unit.file)
      unitOf.set(s.name, { unit, local: localName(s.name) })
      stages.push(s)
    }
  }
  return { units, stages, file: units[0].file, unitOf }
}

/**
 * A root pipeline file a pointer file tracks ({@link rootPointerOf}) is
 * data (pulled from a peer, ignored by git), never code: a
 * {@link PipelineError} naming the pointer, rather than running what a
 * teammate's `mlp pull` wrote.
 */
function refuseTrackedRootFile (root: string, rel: string): void {
  const pointer = rootPointerOf(root, rel)
  if (pointer != null) throw new PipelineError(`${join(root, rel)}: mlp does not read it: ${pointer} tracks it as data; delete both files (and commit) to drop it`)
}

/** A stage out that is a pipeline or lock file (or in `.mlp/`) is a {@link PipelineError}: the next command would read what the run wrote as code. */
function refuseReservedOuts (s: Stage, file: string): void {
  for (const o of s.outs) {
    const why = reservedPathProblem(rootPath(s, o.path))
    if (why != null) throw new PipelineError(`${s.file ?? file}:${s.line}: stage '${s.name}': out ${why}`)
  }
}

/** {@link loadProjectPipeline}, or a {@link PipelineFileError} that says how to make a pipeline. */
export function requireProjectPipeline (root: string): ProjectPipeline {
  const p = loadProjectPipeline(root)
  if (p != null) return p
  // files that exist but are all data: say why none is read, not that there is none
  if (candidateFiles(root).length > 0) throw new PipelineFileError(`no stages in ${root}: every pipeline file is inside a pointer-tracked folder or a stage out, so mlp reads none: add a stage with \`mlp stage add\``)
  throw new PipelineFileError(`no mlp.yaml or dvc.yaml in ${root}: add a stage with \`mlp stage add\``)
}

/**
 * A stage target typed in `cwd`, as the stage lookup reads it: a pipeline
 * file part is relative to `cwd` (`dvc.yaml:fit` in `train/` is
 * `train/dvc.yaml:fit`), and a bare name is a stage of the pipeline file of
 * that very folder, as in DVC. A bare name no stage there has is a
 * {@link PipelineError} naming the addresses that do have it.
 */
export function stageTargetFromCwd (p: ProjectPipeline, root: string, cwd: string, target: string): string {
  if (namesFile(target)) return targetFromCwd(root, cwd, target)
  const found = bareStage(root, cwd, target, p.stages.map((s) => s.name), p.units.map((u) => u.rel))
  if (found.address != null) return found.address
  // a file here that the project does not read: say why, not that there is none
  const name = found.file == null ? PIPELINE_NAMES.find((n) => existsSync(join(cwd, n))) : undefined
  if (name != null) {
    const folder = cwdFolder(root, cwd)
    const rel = folder === '' ? name : `${folder}/${name}`
    const why = gitTracks(root, rel) === false ? `git does not track it yet (git add ${name})` : 'it is inside a stage out or a pointer-tracked folder'
    throw new PipelineError(`no stage '${target}' here: mlp does not read ${rel}: ${why}`)
  }
  throw new PipelineError(noStageHere(target, found))
}
