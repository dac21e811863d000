import { existsSync } from 'node:fs'
import { basename, join, relative, resolve } from 'node:path'
import { CID } from 'multiformats/cid'
import { BlockNotFoundError, PathError, type FetchedRoot, type SharedRoot } from '@mlp/proto'
import type { Exchange } from '../exchange/exchange.js'
import { fetchDag } from '../exchange/fetch.js'
import type { Providers } from '../exchange/providers.js'
import type { Replication } from '../exchange/replicate.js'
import type { Logger } from '../logger.js'
import type { ShareList } from '../trust/team-shares.js'
import { markReachable } from '../store/gc.js'
import type { Store } from '../store/index.js'
import { protectRoot } from '../store/in-flight.js'
import { addPaths, pointerDir } from '../tracking/add.js'
import { checkoutOutputs } from '../tracking/checkout.js'
import { pin } from '../tracking/pins.js'
import { readPointer } from '../tracking/pointers.js'
import { writeTreeNew } from '../tracking/safe-write.js'
import { stageOutputs } from '../pipeline/lock-outs.js'
import { reservedPathProblem } from '../pipeline/reserved-paths.js'
import { findProject } from '../tracking/project.js'
import { registerProject } from '../tracking/roots.js'
import { resolveOutputs } from '../tracking/targets.js'
import type { Handlers } from './server.js'
import { cwdOf, optionalString, stringList } from './validate.js'

/** What the sharing routes need. */
export interface ExchangeRoutesComponents {
  store: Store
  exchange: Exchange
  replication: Replication
  providers: Providers
  log: Logger
  /** Roots strangers may read: `mlp share` publishes here. */
  shares: ShareList
}

/** Routes about moving data between peers. */
export type ExchangeRoute = 'share' | 'fetch' | 'pull' | 'push'

function tryCid (text: string): CID | undefined {
  try {
    return CID.parse(text)
  } catch {
    return undefined
  }
}

/** Roots named by pointer files. */
async function pointerRoots (pointers: string[]): Promise<Array<{ path: string, cid: CID }>> {
  const out: Array<{ path: string, cid: CID }> = []
  for (const p of pointers) {
    for (const o of (await readPointer(p)).outs) out.push({ path: join(pointerDir(p), o.path), cid: CID.parse(o.cid) })
  }
  return out
}

/** Writes a fetched DAG to a new path, through the safe writer (temp dir beside it, then rename). */
async function exportTo (store: Store, cid: CID, dest: string, signal?: AbortSignal): Promise<void> {
  if (existsSync(dest)) throw new PathError(`${dest} already exists: choose a new path for -o`)
  await store.lock.read(async () => await writeTreeNew(store.exporter, cid, dest, { signal }))
}

/** Handlers of share, fetch, pull and push. */
export function createExchangeHandlers (c: ExchangeRoutesComponents): Pick<Handlers, ExchangeRoute> {
  const { store } = c
  return {
    share: async (body, { signal, progress }) => {
      const cwd = cwdOf(body)
      const out: SharedRoot[] = []
      const paths: string[] = []
      for (const t of stringList(body.targets, 'targets') ?? []) {
        const cid = tryCid(t)
        if (cid == null) {
          paths.push(t)
          continue
        }
        if (!(await store.blockstore.has(cid))) throw new BlockNotFoundError(`${t} is not in the local store: only what this machine holds can be shared`)
        out.push({ cid: cid.toString() })
      }
      if (paths.length > 0) {
        await registerProject(store, findProject(cwd))
        for (const a of await addPaths(store, cwd, paths, { signal, onProgress: progress })) out.push({ path: a.path, cid: a.cid })
      }
      if (out.length === 0) throw new PathError('nothing to share: name paths or content ids (`mlp share --list` shows what is shared)')
      for (const r of out) await pin(store, CID.parse(r.cid), 'shared')
      // published before announced: the provider record must not come before strangers may read it
      await c.shares.add(out.map((r) => ({ cid: CID.parse(r.cid).toString(), path: r.path != null ? resolve(cwd, r.path) : undefined })))
      for (const r of out) c.providers.announce(CID.parse(r.cid))
      return out
    },
    fetch: async (body, { signal, progress }) => {
      const cwd = cwdOf(body)
      const roots: CID[] = []
      const outPath = optionalString(body.out, 'out')
      for (const t of stringList(body.targets, 'targets') ?? []) {
        const cid = tryCid(t)
        if (cid != null) roots.push(cid)
        else if (t.endsWith('.mlp') && existsSync(resolve(cwd, t))) roots.push(...(await pointerRoots([resolve(cwd, t)])).map((r) => r.cid))
        else throw new PathError(`${t} is neither a content id nor a pointer file`)
      }
      if (roots.length === 0) throw new PathError('nothing to fetch: name content ids or .mlp pointer files')
      if (outPath != null && roots.length !== 1) throw new PathError('-o needs exactly one content id')
      // checked before fetching: a pipeline or lock file written from a peer would be read as code
      const reserved = outPath == null ? undefined : reservedPathProblem(basename(resolve(cwd, outPath)))
      if (reserved != null) throw new PathError(`cannot fetch to ${outPath}: ${reserved}`)
      const results: FetchedRoot[] = []
      for (const root of roots) {
        // protected until pinned: fetchDag's own protection ends before the pin is written
        const release = protectRoot(store.blockstore, root)
        let r: FetchedRoot
        try {
          r = await fetchDag(c, root, { signal, onProgress: (detail) => { progress({ name: 'exchange:fetch', detail }) } })
          // a DAG with a name mlp would never write (`..`, `.git`, duplicates) fails here, before it is pinned or announced
          await store.lock.read(async () => { await store.exporter.checkTree(root, signal) })
          await pin(store, root, 'fetched')
        } finally {
          release()
        }
        c.providers.announce(root)
        if (outPath != null) {
          r.out = resolve(cwd, outPath)
          await exportTo(store, root, r.out, signal)
        }
        results.push(r)
      }
      return results
    },
    pull: async (body, { signal, progress }) => {
      const cwd = cwdOf(body)
      const root = findProject(cwd)
      await registerProject(store, root)
      // pointer outs and stage outs of mlp.lock alike, so a teammate's `mlp repro` has nothing to redo
      const outs = await resolveOutputs(root, cwd, stringList(body.targets, 'targets'), stageOutputs(root), signal)
      const fetched: FetchedRoot[] = []
      for (const o of outs) {
        // labelled by the path the user knows, not by a content id
        const path = relative(root, o.abs)
        fetched.push(await fetchDag(c, o.cid, { signal, onProgress: (detail) => { progress({ name: 'exchange:fetch', detail: { ...detail, path } }) } }))
      }
      // the same rules as `mlp checkout`: versions the store knows are replaced, local edits kept and reported
      const checkout = await checkoutOutputs(store, root, outs, { signal, onProgress: progress })
      return { fetched, checkout }
    },
    push: async (body, { signal }) => {
      const cwd = cwdOf(body)
      const root = findProject(cwd)
      const to = optionalString(body.to, 'to')
      const outs = await resolveOutputs(root, cwd, stringList(body.targets, 'targets'), stageOutputs(root), signal)
      const roots = [...new Map(outs.map((o) => [o.cid.toString(), o.cid])).values()]
      const missing: CID[] = []
      await markReachable(store.blockstore, roots, missing, true)
      if (missing.length > 0) throw new BlockNotFoundError(`cannot push: ${missing.length} block(s) are not in the local store, e.g. ${missing[0].toString()}; run \`mlp pull\` first`)
      for (const r of roots) {
        await pin(store, r, 'pushed')
        c.providers.announce(r)
      }
      if (to == null) return { roots: roots.map(String) }
      await c.replication.request(to, roots, signal)
      return { roots: roots.map(String), to, replicated: true }
    }
  }
}
