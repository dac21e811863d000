import { BadRequestError, TRUST_ROLES, type TrustRole } from '@mlp/proto'
import { isJobIdText } from '../exec/job-id.js'
import type { JobTable } from '../exec/jobs.js'
import type { RemoteExec } from '../exec/remote.js'
import type { TrustGrants } from '../trust/grants.js'
import type { Resources } from '@mlp/proto'
import type { Handlers } from './server.js'
import { requiredString, stringList } from './validate.js'

/** The `roles` of a trust request: known role names; `required` refuses none at all. */
function rolesOf (value: unknown, required: boolean): TrustRole[] | undefined {
  const roles = stringList(value, 'roles')
  const unknown = roles?.find((r) => !TRUST_ROLES.includes(r as TrustRole))
  if (unknown != null) throw new BadRequestError(`unknown trust role '${unknown.slice(0, 32)}' (roles: ${TRUST_ROLES.join(', ')})`)
  if (required && (roles == null || roles.length === 0)) throw new BadRequestError(`'roles' must name at least one of ${TRUST_ROLES.join(', ')}`)
  return roles == null || roles.length === 0 ? undefined : roles as TrustRole[]
}

/** What the execution routes need. */
export interface ExecRoutesComponents {
  trust: TrustGrants
  jobs: JobTable
  remote: RemoteExec
  resources: () => Promise<Resources>
}

/** Routes about running stages for and on peers. */
export type ExecRoute = 'trust/add' | 'trust/rm' | 'trust/ls' | 'jobs' | 'logs' | 'cancel' | 'resources'

/** Handlers of trust, jobs, logs, cancel and resources. */
export function createExecHandlers (c: ExecRoutesComponents): Pick<Handlers, ExecRoute> {
  const job = (text: string): NonNullable<ReturnType<JobTable['get']>> => {
    const id = text.toLowerCase()
    // ids name directories on executors: nothing outside 0-9 a-f - goes any further
    if (!isJobIdText(id)) throw new BadRequestError(`'${text.slice(0, 64)}' is not a job id: see \`mlp jobs\``)
    // a whole id or a unique prefix of one, as git takes commit ids
    return c.jobs.resolve(id)
  }
  return {
    'trust/add': async (body) => await c.trust.add(requiredString(body.peerId, 'peerId'), rolesOf(body.roles, true) as TrustRole[]),
    'trust/rm': async (body) => await c.trust.remove(requiredString(body.peerId, 'peerId'), rolesOf(body.roles, false)),
    'trust/ls': async () => c.trust.list(),
    jobs: async () => c.jobs.list(),
    resources: async () => await c.resources(),
    logs: async (body, { progress, signal }) => {
      const j = job(requiredString(body.id, 'id'))
      for (const l of j.log) progress({ name: 'exec:log', detail: { stage: j.info.stage, ...l } })
      const live = j.info.state === 'queued' || j.info.state === 'running'
      if (body.follow === true && live) {
        await new Promise<void>((resolve) => {
          const listener = (l: { stream: 'stdout' | 'stderr', line: string } | null): void => {
            if (l == null) {
              j.listeners.delete(listener)
              resolve()
            } else {
              progress({ name: 'exec:log', detail: { stage: j.info.stage, ...l } })
            }
          }
          j.listeners.add(listener)
          signal.addEventListener('abort', () => { j.listeners.delete(listener); resolve() }, { once: true })
        })
      }
      return { id: j.info.id, state: j.info.state }
    },
    cancel: async (body) => {
      const j = job(requiredString(body.id, 'id'))
      if (j.info.state !== 'queued' && j.info.state !== 'running') return j.info
      if (j.info.role === 'executor') {
        j.abort?.abort()
      } else {
        await c.remote.cancel(j.info.peer, j.info.id)
      }
      // wait (bounded) for the job to report its end
      for (let i = 0; i < 100 && (j.info.state === 'queued' || j.info.state === 'running'); i++) await new Promise((resolve) => setTimeout(resolve, 100))
      return j.info
    }
  }
}
