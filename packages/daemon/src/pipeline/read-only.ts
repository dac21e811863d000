import { join } from 'node:path'
import { PipelineFileError, type DagResult, type MetricValue, type ValueDiff } from '@mlp/proto'
import { findProject } from '../tracking/project.js'
import { buildGraph, rootPath } from './graph.js'
import { loadPipeline, pipelineFile } from './schema.js'
import { diffValues, revisionValues, workspaceValues } from './values.js'

// The pipeline questions answered from the workspace and git alone: no store,
// no peers. The daemon's routes and the CLI (with no daemon running) both ask
// them here, so the answers cannot differ.

/** The project's pipeline file, or a {@link PipelineFileError} that says how to make one. */
export function requirePipeline (root: string): string {
  const file = pipelineFile(root)
  if (file == null) throw new PipelineFileError(`no mlp.yaml or dvc.yaml in ${root}: add a stage with \`mlp stage add\``)
  return file
}

/** `mlp dag`: the stages and their edges, from the pipeline and params files only. */
export function readDag (cwd: string): DagResult {
  const root = findProject(cwd)
  const file = requirePipeline(root)
  const pipeline = loadPipeline(file)
  const graph = buildGraph(pipeline.stages, file)
  return {
    stages: pipeline.stages.map((s) => ({ name: s.name, cmd: s.cmd.join(' && '), deps: s.deps.map((d) => rootPath(s, d)), outs: s.outs.map((o) => rootPath(s, o.path)) })),
    edges: graph.edges
  }
}

/** `mlp params diff`: params of `params.yaml` and every file the stages name, against a git revision. */
export async function readParamsDiff (cwd: string, rev = 'HEAD'): Promise<ValueDiff[]> {
  const root = findProject(cwd)
  const file = pipelineFile(root)
  const files = new Set(['params.yaml'])
  if (file != null) for (const s of loadPipeline(file).stages) for (const p of s.params) files.add(join(s.wdir, p.file))
  const out: ValueDiff[] = []
  for (const f of [...files].sort()) out.push(...diffValues(f, await revisionValues(root, f, rev), workspaceValues(root, f)))
  return out
}

/** The metrics files the stages declare, relative to the project root. */
export function metricFiles (root: string): string[] {
  const file = requirePipeline(root)
  return loadPipeline(file).stages.flatMap((s) => s.outs.filter((o) => o.kind === 'metric').map((o) => rootPath(s, o.path)))
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
