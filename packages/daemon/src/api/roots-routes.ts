import { existsSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { BadRequestError, NotTrackedError, type GcResult, type GcScope } from '@mlp/proto'
import type { Logger } from '../logger.js'
import { collectStoreGarbage } from '../store/gc.js'
import type { Store } from '../store/index.js'
import { PROJECT_DIR } from '../tracking/project.js'
import { removePaths } from '../tracking/remove.js'
import { PROJECTS_SOURCE, forgetProject } from '../tracking/roots.js'
import type { Handlers } from './server.js'
import { cwdOf, optionalBoolean, stringList } from './validate.js'

/** What the gc, pins and remove routes need. */
export interface RootsRoutesComponents {
  /** The store, with its gc root sources registered (projects, run cache). */
  store: Store
  log: Logger
  /** Live share below which gc rewrites a pack (config key `gcCompactBelow`; default the store's). */
  compactBelow?: number
  /** Runs after a gc that removed something, e.g. to withdraw provider records of removed roots. */
  afterGc?: () => Promise<void>
}

/** Routes about what the store keeps: gc, pins, and untracking. */
export type RootsRoute = 'gc' | 'pins/ls' | 'pins/rm' | 'remove'

/**
 * `--forget` paths, each a registered project whose folder is gone. A project
 * that is still there is refused: its data is in use, and forgetting it
 * would let this very gc delete it.
 */
async function forgetSet (store: Store, cwd: string | undefined, paths: string[]): Promise<Set<string>> {
  const out = new Set<string>()
  for (const p of paths) {
    const abs = resolve(cwd ?? '/', p)
    if ((await store.index.projects.get(abs)) == null) throw new NotTrackedError(`${abs} is not a registered project: nothing to forget (the gc summary lists missing projects)`)
    if (existsSync(join(abs, PROJECT_DIR))) throw new NotTrackedError(`${abs} is still there: --forget is for projects whose folder is gone; its data stays while it exists`)
    out.add(abs)
  }
  return out
}

/** Handlers of gc, pins and remove. */
export function createRootsHandlers ({ store, log, compactBelow, afterGc }: RootsRoutesComponents): Pick<Handlers, RootsRoute> {
  return {
    gc: async (body, { signal }) => {
      const dry = optionalBoolean(body.dry, 'dry') === true
      const workspace = optionalBoolean(body.workspace, 'workspace') === true
      const allCommits = optionalBoolean(body.allCommits, 'allCommits') === true
      if (workspace && allCommits) throw new BadRequestError('--workspace and --all-commits exclude each other: pick one scope')
      const scope: GcScope = workspace ? 'workspace' : allCommits ? 'all-commits' : 'refs'
      const cwd = body.cwd == null ? undefined : cwdOf(body)
      // checked before gc takes the lock: a path that is not a missing project changes nothing
      const forget = await forgetSet(store, cwd, stringList(body.forget, 'forget') ?? [])
      // built under the lock, where the projects are forgotten and provider records withdrawn
      let full: GcResult | undefined
      await collectStoreGarbage(store, {
        scope,
        dry,
        forget,
        compactBelow,
        log,
        signal,
        finish: async ({ sources, ...result }) => {
          if (!dry) for (const root of forget) await forgetProject(store, root)
          const projects = sources[PROJECTS_SOURCE]
          full = { ...result, scope, projects: projects?.read ?? 0, missingProjects: projects?.missing ?? [], forgotten: [...forget] }
          log.info(dry ? 'gc dry run' : 'gc done', { ...full, wouldRemove: full.wouldRemove?.length })
          if (!dry) await afterGc?.()
        }
      })
      return full as GcResult
    },
    'pins/ls': async () => await store.pins.list(),
    'pins/rm': async (body) => await store.pins.unpin(stringList(body.cids, 'cids') ?? []),
    remove: async (body) => await removePaths(cwdOf(body), stringList(body.targets, 'targets') ?? [])
  }
}
