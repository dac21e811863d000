import { CID } from 'multiformats/cid'
import { BadRequestError, InvalidCidError, type ByteRoutes } from '@mlp/proto'
import type { Logger } from '../logger.js'
import { collectGarbage } from '../store/gc.js'
import type { Store } from '../store/index.js'
import { verifyStore } from '../store/verify.js'
import { pipelineStatus } from '../pipeline/status.js'
import { addPaths } from '../tracking/add.js'
import { checkoutPointers } from '../tracking/checkout.js'
import { findProject, initProject } from '../tracking/project.js'
import { collectRoots, registerProject } from '../tracking/roots.js'
import { statusOf } from '../tracking/status.js'
import { resolvePointers } from '../tracking/targets.js'
import type { ByteHandlers, Handlers } from './server.js'
import { cwdOf, optionalBoolean, stringList } from './validate.js'

/** What the store routes need. */
export interface StoreRoutesComponents {
  store: Store
  log: Logger
  /** Runs after gc, e.g. to withdraw provider records of removed roots. */
  afterGc?: () => Promise<void>
}

function cidArg (text: unknown): CID {
  if (typeof text !== 'string') throw new BadRequestError("'cid' must be a string")
  try {
    return CID.parse(text.trim())
  } catch (err) {
    throw new InvalidCidError(`'${text}' is not a content id`, { cause: err })
  }
}

/** Routes about the store and data tracking. */
export type StoreRoute = 'init' | 'add' | 'status' | 'checkout' | 'ls' | 'gc' | 'verify'

/** Handlers of the data-tracking and store routes. */
export function createStoreHandlers ({ store, log, afterGc }: StoreRoutesComponents): Pick<Handlers, StoreRoute> {
  return {
    init: async (body) => {
      const root = await initProject(cwdOf(body))
      await registerProject(store, root)
      return { root }
    },
    add: async (body, { signal, progress }) => {
      const cwd = cwdOf(body)
      const paths = stringList(body.paths, 'paths') ?? []
      await registerProject(store, findProject(cwd))
      return await addPaths(store, cwd, paths, { signal, onProgress: progress })
    },
    status: async (body, { signal }) => {
      const cwd = cwdOf(body)
      const root = findProject(cwd)
      const pointers = await resolvePointers(root, cwd, stringList(body.targets, 'targets'), signal)
      const data = await store.lock.read(async () => await statusOf(store, root, pointers, signal))
      const targets = stringList(body.targets, 'targets')
      const stages = targets == null || targets.length === 0 ? await pipelineStatus(store, root, signal) : []
      return { root, ...data, stages }
    },
    checkout: async (body, { signal, progress }) => {
      const cwd = cwdOf(body)
      const root = findProject(cwd)
      await registerProject(store, root)
      const pointers = await resolvePointers(root, cwd, stringList(body.targets, 'targets'), signal)
      return await checkoutPointers(store, root, pointers, { force: optionalBoolean(body.force, 'force'), signal, onProgress: progress })
    },
    ls: async (body) => await store.lock.read(async () => await store.exporter.list(cidArg(body.cid))),
    gc: async (_body, { signal }) => await store.lock.write(async () => {
      const roots = await collectRoots(store, log, signal)
      const result = await collectGarbage(store.blockstore, roots, signal)
      log.info('gc done', { ...result })
      await afterGc?.()
      return result
    }),
    verify: async (_body, { signal, progress }) => await store.lock.read(async () => {
      const roots = await collectRoots(store, log, signal)
      return await verifyStore(store.blockstore, roots, { signal, onProgress: (checked) => { progress({ name: 'store:verify', detail: { checked } }) } })
    })
  }
}

/** Handlers of the byte routes. */
export function createByteHandlers ({ store }: StoreRoutesComponents): ByteHandlers {
  return {
    cat: (body: ByteRoutes['cat']['request'], signal: AbortSignal) => store.exporter.file(cidArg(body.cid), signal)
  }
}
