import { CID } from 'multiformats/cid'
import { BadRequestError, InvalidCidError, type ByteRoutes } from '@mlp/proto'
import type { Logger } from '../logger.js'
import type { Store } from '../store/index.js'
import { repairStore, verifyStore } from '../store/verify.js'
import { pipelineStatus } from '../pipeline/status.js'
import { addPaths } from '../tracking/add.js'
import { stageOutputs } from '../pipeline/lock-outs.js'
import { checkoutOutputs } from '../tracking/checkout.js'
import { installHooks } from '../tracking/hooks.js'
import { findProject, initProject } from '../tracking/project.js'
import { stageOutPaths } from '../pipeline/stage-outs.js'
import { collectRoots, registerProject } from '../tracking/roots.js'
import { statusOf } from '../tracking/status.js'
import { resolveOutputs } from '../tracking/targets.js'
import type { ByteHandlers, Handlers } from './server.js'
import { cwdOf, optionalBoolean, stringList } from './validate.js'

/** What the store routes need. */
export interface StoreRoutesComponents {
  store: Store
  log: Logger
  /** Fetches what a root's DAG lacks from peers, for `mlp verify --repair`; absent, repair is refused. */
  fetchRoot?: (root: CID, signal?: AbortSignal) => Promise<void>
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
export type StoreRoute = 'init' | 'add' | 'status' | 'checkout' | 'install' | 'ls' | 'verify'

/** Handlers of the data-tracking and store routes. */
export function createStoreHandlers ({ store, log, fetchRoot }: StoreRoutesComponents): Pick<Handlers, StoreRoute> {
  return {
    init: async (body) => {
      const root = await initProject(cwdOf(body))
      await registerProject(store, root)
      return { root }
    },
    add: async (body, { signal, progress }) => {
      const cwd = cwdOf(body)
      const paths = stringList(body.paths, 'paths') ?? []
      const root = findProject(cwd)
      await registerProject(store, root)
      return await addPaths(store, cwd, paths, { signal, onProgress: progress, stageOuts: stageOutPaths(root) })
    },
    status: async (body, { signal }) => {
      const cwd = cwdOf(body)
      const root = findProject(cwd)
      const targets = stringList(body.targets, 'targets')
      const outs = await resolveOutputs(root, cwd, targets, stageOutputs(root), signal)
      const data = await store.lock.read(async () => await statusOf(store, root, outs, signal))
      const stages = targets == null || targets.length === 0 ? await pipelineStatus(store, root, signal) : []
      return { root, ...data, stages }
    },
    checkout: async (body, { signal, progress }) => {
      const cwd = cwdOf(body)
      const root = findProject(cwd)
      await registerProject(store, root)
      const outs = await resolveOutputs(root, cwd, stringList(body.targets, 'targets'), stageOutputs(root), signal)
      return await checkoutOutputs(store, root, outs, { force: optionalBoolean(body.force, 'force'), signal, onProgress: progress })
    },
    install: async (body) => await installHooks(findProject(cwdOf(body)), optionalBoolean(body.force, 'force')),
    ls: async (body) => await store.lock.read(async () => await store.exporter.list(cidArg(body.cid))),
    verify: async (body, { signal, progress }) => {
      const repair = optionalBoolean(body.repair, 'repair') === true
      if (repair && fetchRoot == null) throw new BadRequestError('this daemon cannot repair: it has no block exchange')
      const { roots, report } = await store.lock.read(async () => {
        const roots = await collectRoots(store, log, signal)
        return { roots, report: await verifyStore(store.blockstore, roots, { signal, onProgress: (checked) => { progress({ name: 'store:verify', detail: { checked } }) } }) }
      })
      if (!repair || fetchRoot == null) return report
      // outside the lock: a fetch takes it per write and waits on the network in between
      const fixed = await repairStore(store.blockstore, store.lock, roots, fetchRoot, {
        signal,
        onRoot: (root) => { progress({ name: 'store:verify', detail: { checked: report.checkedBlocks, repairing: root.toString() } }) }
      })
      log.info('verify --repair done', { repaired: fixed.repaired.length, unrepaired: fixed.unrepaired.length })
      return { ...report, ...fixed }
    }
  }
}

/** Handlers of the byte routes. */
export function createByteHandlers ({ store }: StoreRoutesComponents): ByteHandlers {
  return {
    cat: (body: ByteRoutes['cat']['request'], signal: AbortSignal) => store.exporter.file(cidArg(body.cid), signal)
  }
}
