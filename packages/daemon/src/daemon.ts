import type { CID } from 'multiformats/cid'
import { readFile } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import { allocatorTuned } from './allocator.js'
import { loadSwarmKey } from './net/swarm-key.js'
import { loadConfig, type ConfigOverrides, type DaemonConfig } from './config.js'
import { homePaths, secureHome, type HomePaths } from './home.js'
import { loadIdentity } from './identity.js'
import { createLogger, type Logger } from './logger.js'
import { createNode, type MlpNode } from './net/node.js'
import { Peering } from './net/peering.js'
import { PeerTable } from './net/peers.js'
import { acquirePidFile, releasePidFile } from './pidfile.js'
import { createHandlers } from './api/routes.js'
import { startApiServer } from './api/server.js'
import { createByteHandlers, createStoreHandlers } from './api/store-routes.js'
import { createRootsHandlers } from './api/roots-routes.js'
import { openStore } from './store/index.js'
import { createExchangeHandlers } from './api/exchange-routes.js'
import { Exchange } from './exchange/exchange.js'
import { Providers } from './exchange/providers.js'
import { Replication } from './exchange/replicate.js'
import { Traffic } from './exchange/traffic.js'
import { createPipelineHandlers } from './api/pipeline-routes.js'
import { PeerRunCacheService } from './pipeline/peer-runcache.js'
import { RunCache, runCacheRootSource } from './pipeline/runcache.js'
import { projectRootSource } from './tracking/roots.js'
import type { Resources } from '@mlp/proto'
import { createExecHandlers } from './api/exec-routes.js'
import { createMigrateHandlers } from './api/migrate-routes.js'
import { createExpHandlers } from './api/exp-routes.js'
import { byteLimited } from './exp/patch.js'
import { knownProjectIds } from './exp/projects.js'
import { ExpRecords } from './exp/records.js'
import { recoverInterrupted } from './exp/recover.js'
import { expRootSource } from './exp/roots.js'
import { ExpSync } from './exp/sync.js'
import { createReviewHandlers } from './api/review-routes.js'
import { peerBlocks } from './diff/peer-blocks.js'
import { plotsRenderer } from './report/plots.js'
import { fetchDag } from './exchange/fetch.js'
import { GpuAllocator, JobTable } from './exec/jobs.js'
import { RemoteExec } from './exec/remote.js'
import { detectResources } from './exec/resources.js'
import { ExecService } from './exec/service.js'
import { SlurmExecutor } from './exec/slurm/executor.js'
import { PartitionResources } from './exec/slurm/resources.js'
import { TrustGrants } from './trust/grants.js'
import { createTeamHandlers } from './api/team-routes.js'
import { TeamList } from './trust/team.js'
import { TeamPolicy } from './trust/team-policy.js'
import { ReplicaLedger } from './trust/team-quota.js'
import { ShareList } from './trust/team-shares.js'
import { PushGrants } from './trust/team-grants.js'

/** How long detected resources are reused before nvidia-smi is asked again. */
const RESOURCES_TTL_MS = 5_000

/** Options of {@link startDaemon}. */
export interface DaemonInit {
  /** The `MLP_HOME` directory; created (mode 0700) if missing. */
  home: string
  /** Flag values that override config.yaml. */
  overrides?: ConfigOverrides
  /** Mirror log lines to stderr (foreground mode). */
  logToStderr?: boolean
}

/** A running daemon. */
export interface Daemon {
  paths: HomePaths
  config: DaemonConfig
  node: MlpNode
  log: Logger
  /** Shuts everything down in reverse order of start; safe to call twice. */
  stop: () => Promise<void>
  /** Settles once {@link Daemon.stop} has finished, whoever called it. */
  stopped: Promise<void>
}

async function packageVersion (): Promise<string> {
  const pkg = JSON.parse(await readFile(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }
  return pkg.version
}

/**
 * Sends process warnings (a listener leak, a deprecation) to the log instead
 * of Node's printer, which writes plain text to stderr: daemon.log in the
 * background, whose every line must be JSON. Returns the undo.
 */
function logProcessWarnings (log: Logger): () => void {
  const printers = process.listeners('warning')
  const onWarning = (w: Error): void => { log.warn('process warning', { name: w.name, warning: w.message, stack: w.stack }) }
  process.removeAllListeners('warning')
  process.on('warning', onWarning)
  return () => {
    process.off('warning', onWarning)
    for (const p of printers) process.on('warning', p)
  }
}

/**
 * Starts one daemon for one `MLP_HOME`, wiring its parts in order: home and
 * pid file, config, log, identity, libp2p node, peer table, peering, local
 * API. If any step fails, what was started is stopped again.
 */
export async function startDaemon (init: DaemonInit): Promise<Daemon> {
  const paths = homePaths(init.home)
  // before anything in it is read or written: a home others can write is made private (or refused)
  const homeCheck = await secureHome(paths.home)
  const config = await loadConfig(paths.config, init.overrides)
  await acquirePidFile(paths.pidFile, paths.socket)
  const cleanups: Array<() => Promise<void> | void> = [async () => { await releasePidFile(paths.pidFile) }]
  const runCleanups = async (): Promise<void> => {
    for (const fn of cleanups.reverse()) {
      try {
        await fn()
      } catch {
        // keep shutting down the rest
      }
    }
    cleanups.length = 0
  }
  try {
    const log = createLogger({ file: paths.logFile, level: config.logLevel, stderr: init.logToStderr })
    cleanups.push(logProcessWarnings(log))
    if (homeCheck.tightenedFrom != null) log.warn('MLP_HOME was open to other users; setting mode 0700', { home: paths.home, mode: homeCheck.tightenedFrom.toString(8) })
    const privateKey = await loadIdentity(paths.identity, log)
    const store = await openStore(paths.store)
    cleanups.push(async () => { await store.close() })
    // what gc keeps: the store asks these (and its own pins and in-flight roots) at each gc
    store.roots.register(projectRootSource(store, log))
    store.roots.register(runCacheRootSource(store, config.gcKeepRunCacheDays * 24 * 3600 * 1000))
    const swarmKey = await loadSwarmKey(config.swarmKey != null ? resolve(paths.home, config.swarmKey) : join(paths.home, 'swarm.key'), config.swarmKey != null)
    if (swarmKey != null) log.info('private network: only peers with the same swarm key can connect')
    const node = await createNode({ privateKey, listen: config.listen, mdns: config.mdns, swarmKey })
    cleanups.push(async () => { await node.stop() })

    // mDNS finds peers but does not dial them
    node.addEventListener('peer:discovery', (evt) => {
      const peer = evt.detail.id
      if (node.getConnections(peer).length > 0) return
      node.dial(peer).catch((err: Error) => { log.debug('dial of discovered peer failed', { peer: peer.toString(), error: err.message }) })
    })

    const peering = new Peering({ node, log }, { file: paths.peers, bootstrap: config.bootstrap })
    const traffic = new Traffic()
    // the peer table starts before remote execution exists; it asks it later
    const late: { remote?: RemoteExec, trust?: TrustGrants } = {}
    const peers = new PeerTable({ node, log, remembered: () => peering.rememberedIds(), traffic: (peer) => traffic.get(peer), resources: async (peer, signal) => await late.remote?.peerResources(peer, signal) })
    peers.start()
    cleanups.push(() => { peers.stop() })
    await peering.start()
    cleanups.push(() => { peering.stop() })

    // teammates read any block and may push copies here; strangers get only shared roots
    const team = new TeamList(join(paths.home, 'team.json'))
    await team.load()
    const shares = new ShareList(join(paths.home, 'shares.json'))
    await shares.load()
    const ledger = new ReplicaLedger(join(paths.home, 'replicas.json'))
    await ledger.load()
    // any trust role makes a teammate: the one place data access reads the trust list
    const teamPolicy = new TeamPolicy({ team, swarmKey: swarmKey != null, roles: (peer) => late.trust?.roles(peer) ?? [], rolePeers: () => late.trust?.peers() ?? [], replicaBytes: (peer) => ledger.used(peer) })
    const isTeammate = (peer: string): boolean => teamPolicy.isTeammate(peer)
    const pushGrants = new PushGrants()
    const isShared = (cid: string, peer?: string): boolean => shares.has(cid) || (peer != null && pushGrants.allows(peer, cid))

    const exchange = new Exchange({ node, store, log, traffic, isTeammate, isShared })
    await exchange.start()
    cleanups.push(async () => { await exchange.stop() })
    const providers = new Providers({ node, store, log, isShared, shared: () => shares.list().map((r) => r.cid) })
    providers.start()
    cleanups.push(() => { providers.stop() })
    const replication = new Replication({ node, store, exchange, log, providers, isTeammate, ledger, quotaBytes: config.replicaQuota, minFreeBytes: config.replicaMinFree, storeDir: paths.store, pushGrants })
    await replication.start()
    cleanups.push(async () => { await replication.stop() })
    const trust = new TrustGrants(join(paths.home, 'trust.json'))
    await trust.load()
    late.trust = trust
    const jobs = new JobTable()
    let cachedResources: { at: number, value: Resources } | undefined
    // nvidia-smi is slow-ish: refreshed at most every few seconds
    const resources = async (): Promise<Resources> => {
      if (cachedResources == null || Date.now() - cachedResources.at > RESOURCES_TTL_MS) cachedResources = { at: Date.now(), value: await detectResources(jobs.counts(), config.executor.simulatedGpus ?? 0) }
      return { ...cachedResources.value, runningJobs: jobs.counts().running, queuedJobs: jobs.counts().queued }
    }
    const detected = await resources()
    if (detected.gpus.length > 0) log.info('GPUs found', { gpus: detected.gpus.map((g) => g.name), cuda: detected.cudaVersion })
    const gpus = new GpuAllocator(detected.gpus.map((g) => g.index))
    const remote = new RemoteExec({ node, log, jobs, resources, trust })
    late.remote = remote
    // results are believed from this machine and from peers granted --results, whoever relays them
    const runCache = new RunCache(store, { self: node.peerId.toString(), privateKey, trusted: (signer) => signer === node.peerId.toString() || trust.has(signer, 'results') })
    const peerRunCache = new PeerRunCacheService({ node, store, runCache, exchange, providers, log, isTeammate })
    await peerRunCache.start()
    cleanups.push(async () => { await peerRunCache.stop() })
    // executor.kind slurm: peers' stages go to the partition, and peers are told its GPUs (this machine's own stay for its own stages)
    const slurmConfig = config.executor.slurm
    const slurm = slurmConfig != null ? new SlurmExecutor(slurmConfig, { log, self: node.peerId.toString() }) : undefined
    const partition = slurmConfig != null ? new PartitionResources(slurmConfig, () => jobs.counts()) : undefined
    const offered = partition != null ? async (): Promise<Resources> => await partition.get() : resources
    const execService = new ExecService({ node, store, exchange, providers, log, trust, privateKey, home: paths.home, sandbox: config.executor.sandbox, jobs, gpus, runCache, resources: offered, jobsDir: join(paths.home, 'jobs'), isTeammate, slurm })
    await execService.start()
    cleanups.push(async () => { await execService.stop() })
    // experiment records: kept per project and author, synced with teammates only
    const expRecords = new ExpRecords(join(paths.home, 'exps'), { knownProjects: async () => await knownProjectIds(store) })
    await expRecords.load()
    // runs live in the daemon: its own records still `running` were cut short by its stop
    await recoverInterrupted({ records: expRecords, privateKey, self: node.peerId.toString(), workDir: join(paths.home, 'exp-runs'), log })
    store.roots.register(expRootSource(expRecords))
    const expSync = new ExpSync({ node, records: expRecords, log, isTeammate })
    await expSync.start()
    cleanups.push(async () => { await expSync.stop() })

    const startedAt = new Date()
    const version = await packageVersion()
    let resolveStopped!: () => void
    const stopped = new Promise<void>((resolve) => { resolveStopped = resolve })
    let stopping: Promise<void> | undefined
    const stop = async (): Promise<void> => {
      stopping ??= (async () => {
        log.info('daemon stopping')
        await runCleanups()
        log.info('daemon stopped')
        resolveStopped()
      })()
      await stopping
    }

    // what the pipeline, experiment, review and store handlers share: a
    // whole DAG fetched from peers, the run's components, this project's experiments
    const fetchWhole = async (cid: CID, signal?: AbortSignal): Promise<void> => { await fetchDag({ exchange, store, log, providers }, cid, { signal }) }
    const repro: Pick<Parameters<typeof createPipelineHandlers>[0], 'store' | 'log' | 'runCache' | 'peerId' | 'peers' | 'remote' | 'gpus'> = {
      store,
      log,
      runCache,
      peerId: node.peerId.toString(),
      peers: async (key, signal) => await peerRunCache.query(key, signal),
      remote,
      gpus
    }
    const experiments = { list: (project: string) => expRecords.list(project), self: node.peerId.toString() }
    const api = await startApiServer({
      socket: paths.socket,
      log,
      byteHandlers: createByteHandlers({ store, log }),
      handlers: {
        ...createStoreHandlers({ store, log, fetchRoot: fetchWhole }),
        ...createRootsHandlers({ store, log, compactBelow: config.gcCompactBelow, afterGc: async () => { await providers.withdrawMissing() } }),
        ...createExchangeHandlers({ store, exchange, replication, providers, log, shares }),
        ...createTeamHandlers({ node, team, policy: teamPolicy, shares, providers, replicaQuota: config.replicaQuota, onRemoved: async (peer) => { await expRecords.dropAuthor(peer) } }),
        ...createPipelineHandlers({ ...repro, fetch: fetchWhole, experiments }),
        ...createExecHandlers({ trust, jobs, remote, resources }),
        ...createMigrateHandlers({ store }),
        ...createExpHandlers({
          ...repro,
          fetch: async (cid, signal, maxBytes) => { await fetchDag({ exchange, store, log, providers }, cid, maxBytes != null ? byteLimited(maxBytes, signal) : { signal }) },
          records: expRecords,
          sync: expSync,
          privateKey,
          workDir: join(paths.home, 'exp-runs')
        }),
        ...createReviewHandlers({ store, peers: peerBlocks({ exchange, log, providers }), experiments, plots: plotsRenderer({ store, fetch: fetchWhole }) }),
        ...createHandlers({
          node,
          peers,
          peering,
          status: () => ({ pid: process.pid, home: paths.home, version, startedAt: startedAt.toISOString(), uptimeMs: Date.now() - startedAt.getTime(), mallocTuned: allocatorTuned(), nodeFlags: process.execArgv }),
          requestStop: () => { setImmediate(() => { void stop() }) }
        })
      }
    })
    // the API goes first on shutdown so no request sees a half-stopped daemon
    cleanups.push(async () => { await api.close() })

    log.info('daemon started', { pid: process.pid, peerId: node.peerId.toString(), addrs: node.getMultiaddrs().map((a) => a.toString()) })
    return { paths, config, node, log, stop, stopped }
  } catch (err) {
    await runCleanups()
    throw err
  }
}
