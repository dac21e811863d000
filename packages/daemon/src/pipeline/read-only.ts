import { filesBelow } from './files-below.js'
import { dirname, join, normalize, relative } from 'node:path'
import { PipelineFileError, type DagResult, type MetricValue, type ValueDiff } from '@mlp/proto'
import { findProject } from '../tracking/project.js'
import { buildGraph, rootPath } from './graph.js'
import { loadProjectPipeline, requireProjectPipeline } from './project-pipeline.js'
import { resolveRevisionOrUnborn } from './revision.js'
import { diffValues, revisionValues, workspaceValues } from './values.js'

// The pipeline questions answered from the workspace and git alone: no store,
// no peers. The daemon's routes and the CLI (with no daemon running) both ask
// them here, so the answers cannot differ.

/** `mlp dag`: the stages (of every pipeline file, by DVC's addresses) and their edges, from the pipeline and params files only. */
export function readDag (cwd: string): DagResult {
  const root = findProject(cwd)
  const pipeline = requireProjectPipeline(root)
  const graph = buildGraph(pipeline.stages, pipeline.file)
  return {
    stages: pipeline.stages.map((s) => ({ name: s.name, cmd: s.cmd.join(' && '), deps: s.deps.map((d) => rootPath(s, d)), outs: s.outs.map((o) => rootPath(s, o.path)), params: s.params.map((p) => ({ file: rootPath(s, p.file), keys: p.keys })) })),
    edges: graph.edges
  }
}

/** `mlp params diff`: params of `params.yaml` and every file the stages name, against a git revision. */
export async function readParamsDiff (cwd: string, rev = 'HEAD'): Promise<ValueDiff[]> {
  const root = findProject(cwd)
  // an unknown revision is an error, not a table of nulls
  await resolveRevisionOrUnborn(root, rev)
  const files = new Set(['params.yaml'])
  for (const unit of loadProjectPipeline(root)?.units ?? []) {
    for (const s of unit.pipeline.stages) for (const p of s.params) files.add(join(s.wdir, p.file))
    // top-level `params:` files count even when no stage reads them, as in DVC
    for (const p of unit.pipeline.params) files.add(fromPipelineDir(root, unit.file, p))
  }
  const out: ValueDiff[] = []
  for (const f of [...files].sort()) out.push(...diffValues(f, await revisionValues(root, f, rev), workspaceValues(root, f)))
  return out
}

/** A path the pipeline file names at its top level (relative to its folder), relative to the project root. */
function fromPipelineDir (root: string, file: string, path: string): string {
  return normalize(join(relative(root, dirname(file)), path)).replace(/\/$/, '')
}

/**
 * The metrics files the stages declare and those of the top-level
 * `metrics:` list (DVC's example projects declare theirs only there),
 * relative to the project root, each once, in declaration order.
 */
export function metricFiles (root: string): string[] {
  const pipeline = requireProjectPipeline(root)
  const files = pipeline.stages.flatMap((s) => s.outs.filter((o) => o.kind === 'metric').map((o) => rootPath(s, o.path)))
  for (const unit of pipeline.units) files.push(...unit.pipeline.metrics.map((m) => fromPipelineDir(root, unit.file, m)))
  return [...new Set(files.flatMap((f) => filesInside(root, f)))]
}

/** Metrics files a folder holds at most: a larger folder is refused, not half read. */
const MAX_METRICS_IN_FOLDER = 1000

/**
 * A metrics path as files: itself, or (DVC allows a folder of metrics) the
 * JSON and YAML files below it, sorted; symlinks are not followed.
 */
function filesInside (root: string, path: string): string[] {
  return filesBelow(root, path, (name) => /\.(json|ya?ml)$/.test(name), MAX_METRICS_IN_FOLDER,
    () => new PipelineFileError(`metrics folder '${path}' holds over ${MAX_METRICS_IN_FOLDER} metrics files: name the files instead`)) ?? [path]
}

/** `mlp metrics show`: every metric's value in the workspace. */
export function readMetrics (cwd: string): MetricValue[] {
  const root = findProject(cwd)
  const out: MetricValue[] = []
  for (const f of metricFiles(root)) {
    for (const [key, value] of Object.entries(workspaceValues(root, f) ?? {})) out.push({ file: f, key, value })
  }
  return out
}
