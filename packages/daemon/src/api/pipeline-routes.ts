import { BadRequestError } from '@mlp/proto'
import { reproduce, type ReproComponents } from '../pipeline/reproduce.js'
import { readDag, readMetrics, readParamsDiff } from '../pipeline/read-only.js'
import { requireProjectPipeline, stageTargetFromCwd } from '../pipeline/project-pipeline.js'
import { addStage, type NewStage } from '../pipeline/stage-add.js'
import { findProject } from '../tracking/project.js'
import { registerProject } from '../tracking/roots.js'
import { createPlotsHandlers, type PlotsRoute } from './plots-routes.js'
import type { PlotsExperiments } from '../plots/experiments.js'
import type { Handlers } from './server.js'
import { cwdOf, optionalBoolean, optionalCount, optionalString, stringList } from './validate.js'

/** What the pipeline routes need: what reproducing needs. */
export type PipelineRoutesComponents = ReproComponents & { experiments?: PlotsExperiments }

/** Routes about pipelines (`metrics/diff` is a review route, api/review-routes.ts: it may read a revision's data from peers). */
export type PipelineRoute = 'repro' | 'dag' | 'stage/add' | 'params/diff' | 'metrics/show'

/** Handlers of the pipeline routes. */
export function createPipelineHandlers (c: PipelineRoutesComponents): Pick<Handlers, PipelineRoute | PlotsRoute> {
  return {
    ...createPlotsHandlers(c),
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
    'metrics/show': async (body) => readMetrics(cwdOf(body))
  }
}
