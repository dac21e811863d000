import { BadRequestError } from '@mlp/proto'
import { applyExperiment } from '../exp/apply.js'
import { branchExperiment } from '../exp/branch.js'
import type { ExpComponents } from '../exp/context.js'
import { diffExperiments } from '../exp/diff.js'
import { queueExperiment, runQueue } from '../exp/queue.js'
import { removeExperiment } from '../exp/remove.js'
import { runExperiment } from '../exp/run.js'
import { experimentRows } from '../exp/show.js'
import { requireProjectId } from '../tracking/project-id.js'
import { findProject } from '../tracking/project.js'
import { registerProject } from '../tracking/roots.js'
import type { Handlers } from './server.js'
import { cwdOf, optionalBoolean, optionalCount, optionalString, requiredString, stringList } from './validate.js'
import { deadline } from '../deadline.js'

/** Routes of `mlp exp`. */
export type ExpRoute = 'exp/run' | 'exp/run-all' | 'exp/show' | 'exp/apply' | 'exp/remove' | 'exp/diff' | 'exp/branch'

/** How long `exp show` waits for a connected teammate's first exchange of records before answering with what it has. */
const SHOW_SYNC_MS = 3_000

/** Handlers of the experiment routes. */
export function createExpHandlers (c: ExpComponents): Pick<Handlers, ExpRoute> {
  return {
    'exp/run': async (body, { signal, progress }) => {
      const options = { set: stringList(body.set, 'set'), name: optionalString(body.name, 'name') }
      if (optionalBoolean(body.queue, 'queue') === true) return await queueExperiment(c, cwdOf(body), options)
      return await runExperiment(c, cwdOf(body), { ...options, signal, onEvent: progress })
    },
    'exp/run-all': async (body, { signal, progress }) => await runQueue(c, cwdOf(body), { jobs: optionalCount(body.jobs, 'jobs'), signal, onEvent: progress }),
    'exp/show': async (body, { signal }) => {
      const root = findProject(cwdOf(body))
      const project = requireProjectId(root)
      // a project looked at here is one this machine knows: its teammates' records get the full budget (exp/records.ts)
      await registerProject(c.store, root)
      const order = optionalString(body.sortOrder, 'sortOrder')
      if (order != null && order !== 'asc' && order !== 'desc') throw new BadRequestError("'sortOrder' must be asc or desc")
      // the records kept here are complete for every teammate whose exchange since connecting completed;
      // the others (made teammates after connecting, or whose exchange failed) are asked now
      await c.sync.catchUp(deadline(SHOW_SYNC_MS, signal))
      return experimentRows(c.records.list(project).filter((r) => c.sync.trusts(r.author)), c.peerId, optionalString(body.sortBy, 'sortBy'), order)
    },
    'exp/apply': async (body, { signal }) => await applyExperiment(c, cwdOf(body), requiredString(body.name, 'name'), signal),
    'exp/remove': async (body) => await removeExperiment(c, cwdOf(body), requiredString(body.name, 'name')),
    'exp/diff': async (body) => diffExperiments(c, cwdOf(body), requiredString(body.a, 'a'), optionalString(body.b, 'b')),
    'exp/branch': async (body, { signal }) => await branchExperiment(c, cwdOf(body), requiredString(body.name, 'name'), requiredString(body.branch, 'branch'), signal)
  }
}
