import { existsSync } from 'node:fs'
import { dirname, join } from 'node:path'
import type { Store } from '../store/index.js'
import { migrateProject } from '../tracking/migrate.js'
import { findProject, initProject } from '../tracking/project.js'
import { registerProject } from '../tracking/roots.js'
import { NotAProjectError } from '@mlp/proto'
import type { Handlers } from './server.js'
import { cwdOf } from './validate.js'

/** What the migrate route needs. */
export interface MigrateRoutesComponents {
  store: Store
}

/** The route that brings a DVC project over. */
export type MigrateRoute = 'migrate'

/** The nearest folder at or above `cwd` holding `.git` (bounded by the path's depth). */
function gitRoot (cwd: string): string | undefined {
  for (let dir = cwd; ; dir = dirname(dir)) {
    if (existsSync(join(dir, '.git'))) return dir
    if (dirname(dir) === dir) return undefined
  }
}

/**
 * The project root of `cwd`, refused unless it holds `.dvc/`; a DVC
 * repository that is not yet an mlp project is made one first, as `mlp init`
 * would, so moving over is one command. Nothing is written when refused.
 */
async function projectFor (cwd: string): Promise<string> {
  let root: string | undefined
  try {
    root = findProject(cwd)
  } catch (err) {
    if (!(err instanceof NotAProjectError)) throw err
  }
  const candidate = root ?? gitRoot(cwd)
  if (candidate == null || !existsSync(join(candidate, '.dvc'))) throw new NotAProjectError(`${candidate ?? cwd} is not a DVC repository (no .dvc/ folder): nothing to migrate`)
  return root ?? await initProject(cwd)
}

/** Handler of `mlp migrate`. */
export function createMigrateHandlers ({ store }: MigrateRoutesComponents): Pick<Handlers, MigrateRoute> {
  return {
    migrate: async (body, { signal }) => {
      const cwd = cwdOf(body)
      const root = await projectFor(cwd)
      await registerProject(store, root)
      return await migrateProject(store, root, signal)
    }
  }
}
