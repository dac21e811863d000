import { relative } from 'node:path'
import { CID } from 'multiformats/cid'
import { parse } from 'yaml'
import { BadRequestError, type ValueDiff } from '@mlp/proto'
import { reproduce, type ReproComponents } from '../pipeline/reproduce.js'
import { diffValues, gitShow, revisionValues, workspaceValues } from '../pipeline/values.js'
import { metricFiles, readDag, readMetrics, readParamsDiff } from '../pipeline/read-only.js'
import { type LockFile } from '../pipeline/lock.js'
import { requireProjectPipeline, stageTargetFromCwd } from '../pipeline/project-pipeline.js'
import { addStage, type NewStage } from '../pipeline/stage-add.js'
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
      const pipeline = requireProjectPipeline(root)
      const options = {
        // typed in a subfolder, `fit` and `dvc.yaml:fit` are that folder's file's stage, as in DVC
        targets: stringList(body.targets, 'targets')?.map((t) => stageTargetFromCwd(pipeline, root, cwd, t)),
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
      return await reproduce(c, root, pipeline, { ...options, signal, onEvent: progress })
    },
    dag: async (body) => readDag(cwdOf(body)),
    'stage/add': async (body) => {
      const cwd = cwdOf(body)
      const root = findProject(cwd)
      if (typeof body.name !== 'string' || !/^[A-Za-z0-9_.-]+$/.test(body.name)) throw new BadRequestError('the stage name may use letters, digits, _ . and -')
      if (typeof body.cmd !== 'string' || body.cmd.trim() === '') throw new BadRequestError('a stage needs a command')
      for (const key of ['deps', 'outs', 'outsNoCache', 'params', 'metrics', 'metricsNoCache'] as const) stringList(body[key], key)
      optionalCount(body.gpu, 'gpu')
      // the pipeline file of the folder it was typed in, as `dvc stage add` writes ./dvc.yaml
      return await addStage(root, cwd, body as NewStage)
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
