import { existsSync } from 'node:fs'
import { rm, writeFile } from 'node:fs/promises'
import { join, relative } from 'node:path'
import { CID } from 'multiformats/cid'
import { Document, parse, parseDocument } from 'yaml'
import { BadRequestError, PipelineFileError, type ValueDiff } from '@mlp/proto'
import { buildGraph } from '../pipeline/graph.js'
import { reproduce, type ReproComponents } from '../pipeline/reproduce.js'
import { loadPipeline, pipelineFile } from '../pipeline/schema.js'
import { readPipelineText } from '../pipeline/file-size.js'
import { diffValues, gitShow, revisionValues, workspaceValues } from '../pipeline/values.js'
import { metricFiles, readDag, readMetrics, readParamsDiff } from '../pipeline/read-only.js'
import { type LockFile } from '../pipeline/lock.js'
import { requireProjectPipeline, targetFromCwd } from '../pipeline/project-pipeline.js'
import { findProject } from '../tracking/project.js'
import { registerProject } from '../tracking/roots.js'
import type { Handlers } from './server.js'
import { cwdOf, optionalBoolean, optionalCount, optionalString, stringList } from './validate.js'

/** What the pipeline routes need: what reproducing needs. */
export type PipelineRoutesComponents = ReproComponents

/** Routes about pipelines. */
export type PipelineRoute = 'repro' | 'dag' | 'stage/add' | 'params/diff' | 'metrics/show' | 'metrics/diff'

/** Handlers of the pipeline routes. */
export function createPipelineHandlers (c: PipelineRoutesComponents): Pick<Handlers, PipelineRoute> {
  return {
    repro: async (body, { signal, progress }) => {
      const cwd = cwdOf(body)
      const root = findProject(cwd)
      await registerProject(c.store, root)
      const options = {
        // `dvc.yaml:stage` typed in a subfolder is that folder's file, as in DVC
        targets: stringList(body.targets, 'targets')?.map((t) => targetFromCwd(root, cwd, t)),
        dry: optionalBoolean(body.dry, 'dry'),
        force: optionalBoolean(body.force, 'force'),
        downstream: optionalBoolean(body.downstream, 'downstream'),
        singleItem: optionalBoolean(body.singleItem, 'singleItem'),
        jobs: optionalCount(body.jobs, 'jobs'),
        keepGoing: optionalBoolean(body.keepGoing, 'keepGoing'),
        runCache: optionalBoolean(body.runCache, 'runCache'),
        local: optionalBoolean(body.local, 'local'),
        simulatedGpus: optionalBoolean(body.simulatedGpus, 'simulatedGpus')
      }
      return await reproduce(c, root, requireProjectPipeline(root), { ...options, signal, onEvent: progress })
    },
    dag: async (body) => readDag(cwdOf(body)),
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
    'params/diff': async (body) => await readParamsDiff(cwdOf(body), optionalString(body.rev, 'rev') ?? 'HEAD'),
    'metrics/show': async (body) => readMetrics(cwdOf(body)),
    'metrics/diff': async (body) => {
      const root = findProject(cwdOf(body))
      const rev = optionalString(body.rev, 'rev') ?? 'HEAD'
      // every pipeline file's lock at that revision (one beside each file)
      const locks: LockFile[] = []
      for (const unit of requireProjectPipeline(root).units) {
        const lockText = await gitShow(root, relative(root, unit.lockFile), rev)
        if (lockText != null) locks.push(parse(lockText) as LockFile)
      }
      // a cached metrics file is not in git: read the version that revision's lock names from the store
      const fromLock = (f: string) => async (): Promise<string | undefined> => {
        // the file itself, or (a top-level metrics file, as in DVC's examples) a file inside a directory out
        const out = locks.flatMap((lock) => Object.values(lock?.stages ?? {})).flatMap((e) => e.outs ?? []).find((o) => o.path === f || f.startsWith(`${o.path}/`))
        if (out == null) return undefined
        try {
          let cid = CID.parse(out.cid)
          for (const name of f.slice(out.path.length + 1).split('/').filter((n) => n !== '')) {
            const child = (await c.store.exporter.list(cid)).find((e) => e.name === name)
            if (child == null) return undefined
            cid = CID.parse(child.cid)
          }
          const parts: Uint8Array[] = []
          for await (const chunk of c.store.exporter.file(cid)) parts.push(chunk)
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
