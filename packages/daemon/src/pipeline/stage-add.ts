import { existsSync } from 'node:fs'
import { rm, writeFile } from 'node:fs/promises'
import { basename, join } from 'node:path'
import { Document, parseDocument } from 'yaml'
import { PathError, PipelineFileError, type StageAddRequest, type StageAddResult } from '@mlp/proto'
import { cwdFolder } from './address.js'
import { gitTracks, insideOuts } from './collect.js'
import { PipelineError } from './errors.js'
import { buildGraph, rootPath } from './graph.js'
import { readPipelineText } from './file-size.js'
import { loadProjectPipeline } from './project-pipeline.js'
import { loadPipeline, pipelineFile, type Stage } from './schema.js'
import { PROJECT_DIR } from '../tracking/project.js'

/** A stage as `mlp stage add` was given it (already type-checked): the API request without its cwd. */
export type NewStage = Omit<StageAddRequest, 'cwd'>

/**
 * Adds a stage to the pipeline file of the folder `cwd` is in, as DVC's
 * `dvc stage add` writes `./dvc.yaml`: that folder's mlp.yaml or dvc.yaml,
 * else a new mlp.yaml there (mlp's name for a new file, at the root too).
 * Paths are written as typed, so they are relative to that folder. The
 * result is checked against the whole project's DAG (an out another file's
 * stage writes is refused) before anything is written.
 */
export async function addStage (root: string, cwd: string, s: NewStage): Promise<StageAddResult> {
  const folder = cwdFolder(root, cwd)
  const first = folder.split('/')[0]
  if (first === '.git' || first === PROJECT_DIR) throw new PathError(`${cwd} is inside ${first}/: run \`mlp stage add\` in a project folder`)
  const dir = join(root, folder)
  const file = pipelineFile(dir) ?? join(dir, 'mlp.yaml')
  const rel = folder === '' ? basename(file) : `${folder}/${basename(file)}`
  const project = loadProjectPipeline(root)
  if (folder !== '') {
    // a file there would never be read: data from a run or a peer is not code
    const why = insideOuts(root, rel, new Set((project?.stages ?? []).flatMap((x) => x.outs.map((o) => rootPath(x, o.path)))))
    if (why != null) throw new PipelineError(`cannot add a stage to ${rel}: ${why}, so mlp never reads a pipeline file there`)
  }
  const doc = existsSync(file) ? parseDocument(readPipelineText(file, root)) : new Document({ stages: {} })
  if (doc.errors.length > 0) throw new PipelineFileError(`${file}: not valid YAML: ${doc.errors[0].message.split('\n')[0]}`)
  if (doc.hasIn(['stages', s.name]) && s.force !== true) throw new PipelineFileError(`stage '${s.name}' already exists in ${file}: use --force to replace it`)
  if (!doc.has('stages')) doc.set('stages', doc.createNode({}))
  doc.setIn(['stages', s.name], doc.createNode(stageNode(s)))
  const text = doc.toString()
  const mine = await checkedStages(root, folder, file, text)
  // the whole project's DAG with this file's new stages in place of its old ones
  const others = (project?.stages ?? []).filter((x) => project?.unitOf.get(x.name)?.unit.file !== file)
  buildGraph([...others, ...mine], file)
  await writeFile(file, text)
  const address = folder === '' ? s.name : `${rel}:${s.name}`
  return { file, stage: s.name, address, ...(gitTracks(root, rel) === false ? { untracked: rel } : {}) }
}

/** The pipeline file's entry for `s`, in DVC's form. */
function stageNode (s: NewStage): Record<string, unknown> {
  const stage: Record<string, unknown> = { cmd: s.cmd }
  if ((s.deps ?? []).length > 0) stage.deps = s.deps
  if ((s.params ?? []).length > 0) stage.params = s.params
  const outs = [...(s.outs ?? []), ...(s.outsNoCache ?? []).map((o) => ({ [o]: { cache: false } }))]
  if (outs.length > 0) stage.outs = outs
  const metrics = [...(s.metrics ?? []), ...(s.metricsNoCache ?? []).map((m) => ({ [m]: { cache: false } }))]
  if (metrics.length > 0) stage.metrics = metrics
  if (s.gpu != null && s.gpu > 0) stage.resources = { gpu: s.gpu }
  return stage
}

/**
 * The stages of `text` as they would load from `file`: it is parsed from a
 * scratch file beside `file` (params.yaml and vars files are read from that
 * folder), then named and placed as `file`'s own. A bad stage changes nothing.
 */
async function checkedStages (root: string, folder: string, file: string, text: string): Promise<Stage[]> {
  const tmp = `${file}.check.yaml`
  const own = (m: string): string => m.split(tmp).join(file).split(`${basename(tmp)}:`).join(`${basename(file)}:`)
  return await withScratch(tmp, text, () => {
    try {
      const stages = (folder === '' ? loadPipeline(tmp) : loadPipeline(tmp, { root })).stages
      for (const x of stages) {
        x.name = own(x.name)
        x.file = file
      }
      buildGraph(stages, file)
      return stages
    } catch (err) {
      if (err instanceof PipelineError) throw new PipelineError(own(err.message))
      throw err
    }
  })
}

/** Runs `fn` while `text` is written at `tmp`; `tmp` is removed after. */
async function withScratch<T> (tmp: string, text: string, fn: () => T): Promise<T> {
  // a committed symlink by that name is replaced, never written through ('wx' does not follow one)
  await rm(tmp, { force: true })
  await writeFile(tmp, text, { flag: 'wx' })
  try {
    return fn()
  } finally {
    await rm(tmp, { force: true })
  }
}
