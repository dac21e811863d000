import { existsSync } from 'node:fs'
import { rm, writeFile } from 'node:fs/promises'
import { join, relative } from 'node:path'
import { CID } from 'multiformats/cid'
import { Document, parse, parseDocument } from 'yaml'
import { BadRequestError, PipelineFileError, type MetricValue, type ValueDiff } from '@mlp/proto'
import { buildGraph, rootPath } from '../pipeline/graph.js'
import { reproduce, type ReproComponents } from '../pipeline/reproduce.js'
import { loadPipeline, pipelineFile } from '../pipeline/schema.js'
import { readPipelineText } from '../pipeline/file-size.js'
import { diffValues, gitShow, revisionValues, workspaceValues } from '../pipeline/values.js'
import { lockPathFor, type LockFile } from '../pipeline/lock.js'
import { findProject } from '../tracking/project.js'
import { registerProject } from '../tracking/roots.js'
import type { Handlers } from './server.js'
import { cwdOf, optionalBoolean, optionalCount, optionalString, stringList } from './validate.js'

/** What the pipeline routes need: what reproducing needs. */
export type PipelineRoutesComponents = ReproComponents

/** Routes about pipelines. */
export type PipelineRoute = 'repro' | 'dag' | 'stage/add' | 'params/diff' | 'metrics/show' | 'metrics/diff'

function requirePipeline (root: string): string {
  const file = pipelineFile(root)
  if (file == null) throw new PipelineFileError(`no mlp.yaml or dvc.yaml in ${root}: add a stage with \`mlp stage add\``)
  return file
}

/** Handlers of the pipeline routes. */
export function createPipelineHandlers (c: PipelineRoutesComponents): Pick<Handlers, PipelineRoute> {
  return {
    repro: async (body, { signal, progress }) => {
      const root = findProject(cwdOf(body))
      await registerProject(c.store, root)
      const options = {
        targets: stringList(body.targets, 'targets'),
        dry: optionalBoolean(body.dry, 'dry'),
        force: optionalBoolean(body.force, 'force'),
        downstream: optionalBoolean(body.downstream, 'downstream'),
        jobs: optionalCount(body.jobs, 'jobs'),
        keepGoing: optionalBoolean(body.keepGoing, 'keepGoing'),
        runCache: optionalBoolean(body.runCache, 'runCache'),
        local: optionalBoolean(body.local, 'local')
      }
      return await reproduce(c, root, requirePipeline(root), { ...options, signal, onEvent: progress })
    },
    dag: async (body) => {
      const root = findProject(cwdOf(body))
      const file = requirePipeline(root)
      const pipeline = loadPipeline(file)
      const graph = buildGraph(pipeline.stages, file)
      return {
        stages: pipeline.stages.map((s) => ({ name: s.name, cmd: s.cmd.join(' && '), deps: s.deps.map((d) => rootPath(s, d)), outs: s.outs.map((o) => rootPath(s, o.path)) })),
        edges: graph.edges
      }
    },
    'stage/add': async (body) => {
      const root = findProject(cwdOf(body))
      if (typeof body.name !== 'string' || !/^[A-Za-z0-9_.-]+$/.test(body.name)) throw new BadRequestError('the stage name may use letters, digits, _ . and -')
      if (typeof body.cmd !== 'string' || body.cmd.trim() === '') throw new BadRequestError('a stage needs a command')
      for (const key of ['deps', 'outs', 'outsNoCache', 'params', 'metrics', 'metricsNoCache'] as const) stringList(body[key], key)
      optionalCount(body.gpu, 'gpu')
      const file = pipelineFile(root) ?? join(root, 'mlp.yaml')
      const doc = existsSync(file) ? parseDocument(readPipelineText(file, root)) : new Document({ stages: {} })
      if (doc.errors.length > 0) throw new PipelineFileError(`${file}: not valid YAML: ${doc.errors[0].message.split('\n')[0]}`)
      if (doc.hasIn(['stages', body.name]) && body.force !== true) throw new PipelineFileError(`stage '${body.name}' already exists in ${file}: use --force to replace it`)
      const stage: Record<string, unknown> = { cmd: body.cmd }
      if ((body.deps ?? []).length > 0) stage.deps = body.deps
      if ((body.params ?? []).length > 0) stage.params = body.params
      const outs = [...(body.outs ?? []), ...(body.outsNoCache ?? []).map((o) => ({ [o]: { cache: false } }))]
      if (outs.length > 0) stage.outs = outs
      const metrics = [...(body.metrics ?? []), ...(body.metricsNoCache ?? []).map((m) => ({ [m]: { cache: false } }))]
      if (metrics.length > 0) stage.metrics = metrics
      if (body.gpu != null && body.gpu > 0) stage.resources = { gpu: body.gpu }
      if (!doc.has('stages')) doc.set('stages', doc.createNode({}))
      doc.setIn(['stages', body.name], doc.createNode(stage))
      const text = doc.toString()
      // validate the whole result before writing: a bad stage changes nothing
      const tmp = `${file}.check.yaml`
      // a committed symlink by that name is replaced, never written through ('wx' does not follow one)
      await rm(tmp, { force: true })
      await writeFile(tmp, text, { flag: 'wx' })
      try {
        const pipeline = loadPipeline(tmp)
        buildGraph(pipeline.stages, file)
      } finally {
        await rm(tmp, { force: true })
      }
      await writeFile(file, text)
      return { file, stage: body.name }
    },
    'params/diff': async (body) => {
      const root = findProject(cwdOf(body))
      const file = pipelineFile(root)
      const files = new Set(['params.yaml'])
      if (file != null) for (const s of loadPipeline(file).stages) for (const p of s.params) files.add(join(s.wdir, p.file))
      const out: ValueDiff[] = []
      for (const f of [...files].sort()) out.push(...diffValues(f, await revisionValues(root, f, optionalString(body.rev, 'rev') ?? 'HEAD'), workspaceValues(root, f)))
      return out
    },
    'metrics/show': async (body) => {
      const root = findProject(cwdOf(body))
      const out: MetricValue[] = []
      for (const f of metricFiles(root)) {
        for (const [key, value] of Object.entries(workspaceValues(root, f) ?? {})) out.push({ file: f, key, value })
      }
      return out
    },
    'metrics/diff': async (body) => {
      const root = findProject(cwdOf(body))
      const rev = optionalString(body.rev, 'rev') ?? 'HEAD'
      const lockText = await gitShow(root, relative(root, lockPathFor(requirePipeline(root))), rev)
      const lock = lockText == null ? undefined : parse(lockText) as LockFile
      // a cached metrics file is not in git: read the version that revision's lock names from the store
      const fromLock = (f: string) => async (): Promise<string | undefined> => {
        const out = Object.values(lock?.stages ?? {}).flatMap((e) => e.outs ?? []).find((o) => o.path === f)
        if (out == null) return undefined
        try {
          const parts: Uint8Array[] = []
          for await (const chunk of c.store.exporter.file(CID.parse(out.cid))) parts.push(chunk)
          return Buffer.concat(parts).toString('utf8')
        } catch {
          return undefined
        }
      }
      const out: ValueDiff[] = []
      for (const f of metricFiles(root)) out.push(...diffValues(f, await revisionValues(root, f, rev, fromLock(f)), workspaceValues(root, f)))
      return out
    }
  }
}

function metricFiles (root: string): string[] {
  const file = requirePipeline(root)
  return loadPipeline(file).stages.flatMap((s) => s.outs.filter((o) => o.kind === 'metric').map((o) => rootPath(s, o.path)))
}
