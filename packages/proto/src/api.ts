/**
 * The local API contract between `mlp` and its daemon: HTTP over the unix
 * socket `MLP_HOME/api.sock`. Every route is `POST /v0/<route>` with a JSON
 * body; the answer is NDJSON: zero or more `progress` frames, then exactly one
 * `result` or `error` frame. Short routes simply send no progress.
 */
import type { ErrorJSON } from './errors.js'
import type { DiffRequest, DiffResult, ReportRequest, ReportResult } from './review.js'
import type { PlotsDiffRequest, PlotsResult, PlotsShowRequest } from './plots.js'
import type { ExpApplyResult, ExpBranchResult, ExpRow, ExpRunProgress, ExpRunRequest, ExpRunResult } from './exp.js'

/** Path prefix of every route; bumped on an incompatible change. */
export const API_PREFIX = '/v0/'

/** File name of the API socket inside `MLP_HOME`. */
export const API_SOCKET = 'api.sock'

/** Connection state of a peer as the daemon sees it. */
export type PeerState = 'connected' | 'disconnected'

/** One peer in `mlp peers`. */
export interface PeerInfo {
  peerId: string
  /** Addresses we know for the peer; the live connection's address first. */
  addrs: string[]
  state: PeerState
  /** Round-trip time of a libp2p ping, or null when not connected or no answer. */
  latencyMs: number | null
  /** True when added with `mlp peers add`: the daemon keeps redialing it. */
  remembered: boolean
  /** Exchange traffic with this peer since the daemon started. */
  bytesSent: number
  bytesReceived: number
  /** What the peer offers for running stages, when it answered. */
  resources?: Resources
}

/** `mlp id`. */
export interface IdResult {
  peerId: string
  addrs: string[]
}

/** One GPU as `nvidia-smi` reports it. */
export interface GpuInfo {
  index: number
  uuid: string
  name: string
  memoryTotalMib: number
  memoryUsedMib: number
  memoryFreeMib: number
  utilizationPct: number
  driverVersion: string
  computeCap: string
  /** A stand-in from the daemon's `executor.simulatedGpus` setting (tutorials, CI): no real device; placement skips it unless the requester opts in. */
  simulated?: boolean
}

/** What a daemon can offer for running stages. */
export interface Resources {
  gpus: GpuInfo[]
  cudaVersion?: string
  cpus: number
  memoryBytes: number
  freeMemoryBytes: number
  /** Jobs running on this machine for peers or itself. */
  runningJobs: number
  queuedJobs: number
  /** Set when this daemon hands stages to a Slurm partition (config `executor: {kind: slurm}`): its GPUs are the partition's, and a busy partition queues instead of refusing. */
  slurm?: SlurmPartitionInfo
}

/** A Slurm partition as a login-node daemon reports it (from `sinfo`). */
export interface SlurmPartitionInfo {
  partition: string
  gpusTotal: number
  /** GPUs no job holds right now; 0 still takes stages (they queue in Slurm). */
  gpusFree: number
  /** Why Slurm gives no capacity now (slurmctld unreachable); absent when it answers. */
  error?: string
}

/** A remote or local stage job, as `mlp jobs` lists it. */
export interface JobInfo {
  id: string
  stage: string
  /** `executor`: runs here for `peer`; `requester`: runs on `peer` for us. */
  role: 'executor' | 'requester'
  peer: string
  state: 'queued' | 'running' | 'done' | 'failed' | 'cancelled'
  gpus: number[]
  startedAt: string
  endedAt?: string
  message?: string
  /** The Slurm job id, when a Slurm executor runs it. */
  slurmJobId?: string
}

/**
 * What a peer may do with this machine: `run`, its stages may run here (set on
 * the executor); `results`, this machine sends it stages and believes its
 * signed results and run-cache entries (set on the requester).
 */
export type TrustRole = 'run' | 'results'

/** Every trust role, in the order `mlp trust ls` shows them. */
export const TRUST_ROLES: readonly TrustRole[] = ['run', 'results']

/** One row of `mlp trust ls`. */
export interface TrustEntry {
  peerId: string
  roles: TrustRole[]
}

/** `mlp daemon status`. */
export interface DaemonStatus extends IdResult {
  pid: number
  home: string
  version: string
  startedAt: string
  uptimeMs: number
  /** Number of peers with an open connection. */
  connectedPeers: number
  /** Whether the daemon's C allocator settings took effect (glibc and the native addon; see daemon/src/allocator.ts). */
  mallocTuned: boolean
  /** The Node options the daemon process runs with (a background daemon gets DAEMON_NODE_FLAGS, see daemon/src/node-flags.ts). */
  nodeFlags: string[]
}

/** A typed progress event: `name` is namespaced (`net:dial`, `store:add:chunk`). */
export interface ProgressEvent<Name extends string = string, Detail = unknown> {
  name: Name
  detail: Detail
}

/** Progress while `peers/add` dials. */
export type DialProgress = ProgressEvent<'net:dial', { addr: string }>

/** One tracked path, as `mlp add` reports it. */
export interface AddedOut {
  /** As the user gave it, relative to the working directory. */
  path: string
  /** The pointer file written. */
  pointer: string
  cid: string
  size: number
  nfiles: number
  /** Files read and hashed; the others were unchanged per the stat cache. */
  hashedFiles: number
}

/** Progress of an import: bytes and files done out of the totals walked first. */
export type AddProgress = ProgressEvent<'store:add', { path: string, bytes: number, files: number, totalBytes: number, totalFiles: number }>

/** Workspace state of one tracked out. */
export interface OutStatus {
  /** Pointer file (or, for a stage out, the lock file), relative to the project root. */
  pointer: string
  /** For an out of a stage in the lock file: the stage's name. */
  stage?: string
  /** Tracked path, relative to the project root. */
  path: string
  cid: string
  state: 'unchanged' | 'modified' | 'missing'
  /** For a modified directory whose recorded DAG is in the store: what changed, relative to it. */
  changes?: { added: string[], modified: string[], deleted: string[] }
  /** Whether the recorded DAG's root is in the local store (else `mlp checkout` needs a fetch). */
  inStore: boolean
}

/** `mlp status`. */
export interface StatusResult {
  root: string
  outs: OutStatus[]
  /** Files that had to be read and hashed (the stat cache vouched for the rest). */
  hashedFiles: number
  /** Pipeline stages that are not up to date, and why. */
  stages: Array<{ stage: string, reasons: string[] }>
}

/** What `mlp checkout` did for one tracked out. */
export interface CheckoutOut {
  path: string
  cid: string
  written: number
  unchanged: number
  /** Files no longer in the recorded version, removed because the store knows their content. */
  removed: number
  /** Local edits: workspace files whose content the store does not know, kept (no --force). */
  skipped: string[]
}

/** One git hook `mlp install` looked after. */
export interface InstalledHook {
  name: 'post-checkout' | 'post-merge' | 'pre-push'
  path: string
  /** `installed`: written now; `unchanged`: already mlp's; `replaced`: a foreign hook moved aside (`--force`). */
  state: 'installed' | 'unchanged' | 'replaced'
  /** Where a replaced foreign hook was moved. */
  backup?: string
}

/** Progress of a checkout. */
export type CheckoutProgress = ProgressEvent<'store:checkout', { path: string, files: number }>

/** A child in `mlp ls`. */
export interface LsEntry {
  name: string
  cid: string
  kind: 'file' | 'dir' | 'symlink'
  size: number
}

/** Which roots gc reads: workspaces only, also every local branch and tag (the default), or every commit. */
export type GcScope = 'workspace' | 'refs' | 'all-commits'

/** What `mlp gc` is asked to do. */
export interface GcRequest {
  cwd?: string
  /** List what would go and its bytes; change nothing. */
  dry?: boolean
  /** Only the workspaces' tracked outputs, no branches or tags. */
  workspace?: boolean
  /** Every commit reachable from any ref, not just branch and tag tips. */
  allCommits?: boolean
  /** Registered projects whose folder is gone, to stop keeping their data. */
  forget?: string[]
}

/** What `mlp gc` did (or, with `dry`, would do). */
export interface GcResult {
  roots: number
  reachableBlocks: number
  removedBlocks: number
  /** Payload bytes of the removed blocks. */
  removedBytes: number
  compactedPacks: number
  /** Bytes the pack files shrank by: what was actually returned to the disk. */
  reclaimedBytes: number
  /** Pack bytes on disk before and after. */
  packBytesBefore?: number
  packBytesAfter?: number
  /** Bytes of removed blocks in the pack being written (never rewritten while in use): returned by a gc after the daemon moves to a new pack (it is full, or the daemon restarted). */
  heldInCurrentPack?: number
  /** Packs holding dead bytes that were left as they are: their live share is at or above `compactBelow` (rewriting them would copy more than it returns). */
  uncompactedPacks?: number
  /** Dead bytes in those packs: still on disk, returned once enough of their pack dies. */
  uncompactedDeadBytes?: number
  /** Live share below which gc rewrites a pack. */
  compactBelow?: number
  dry?: boolean
  scope?: GcScope
  /** Registered projects whose roots were read. */
  projects?: number
  /** Registered projects whose folder is missing: their last recorded roots were kept. */
  missingProjects?: string[]
  /** Projects dropped by `--forget`. */
  forgotten?: string[]
  /** With `dry`: the top-level DAGs that would go (at most 100). */
  wouldRemove?: string[]
}

/** An explicit pin (`mlp pins ls`): fetched, pushed, shared or kept for a peer. */
export interface PinInfo {
  cid: string
  reason: string
  at: string
}

/** A path `mlp remove` stopped tracking. */
export interface RemovedOut {
  path: string
  pointer: string
  cid: string
}

/** What `mlp verify` found (and, with `--repair`, mended). */
export interface VerifyResult {
  checkedBlocks: number
  checkedBytes: number
  /** Blocks whose stored bytes fail verification (quarantined: they count as missing until a good copy is stored). */
  corrupt: string[]
  /** Blocks a tracked DAG needs that the store lacks. */
  missing: string[]
  /** With `--repair`: corrupt or missing blocks fetched again from peers. */
  repaired?: string[]
  /** With `--repair`: blocks no peer could give, the root that needs each, and why. */
  unrepaired?: Array<{ cid: string, root: string, reason: string }>
}

/** What `mlp verify` is asked to do. */
export interface VerifyRequest {
  /** Fetch every corrupt or missing block reachable from the roots from peers. */
  repair?: boolean
}

/** Progress of verify: blocks rehashed, then (with `--repair`) each root being fetched again. */
export type VerifyProgress = ProgressEvent<'store:verify', { checked: number, repairing?: string }>

/** One root `mlp share` published: strangers may read it and what it links to. */
export interface SharedRoot {
  path?: string
  cid: string
  /** When it was shared (in `mlp share --list`). */
  at?: string
}

/** How a peer came to be a teammate (`mlp team ls`). */
export type TeamVia = 'swarm-key' | 'added' | 'run' | 'results'

/** A teammate: reads any block this daemon holds and may `push --to` it. */
export interface TeamMember {
  peerId: string
  /** Every reason it is a teammate. */
  via: TeamVia[]
  connected: boolean
  /** Bytes of copies kept for it (`push --to`) and its quota. */
  replicaBytes: number
}

/** `mlp team ls`. */
export interface TeamListing {
  /** This daemon runs with a swarm key: every peer that can connect is a teammate. */
  swarmKey: boolean
  members: TeamMember[]
  /** Bytes of copies each teammate may ask this daemon to keep. */
  replicaQuota: number
}

/** What a fetch of one root did. */
export interface FetchedRoot {
  root: string
  /** Blocks and bytes received from peers. */
  blocks: number
  bytes: number
  /** Blocks that were already in the store. */
  alreadyHad: number
  /** Blocks and bytes each peer served. */
  fromPeers: Record<string, { blocks: number, bytes: number }>
  /** Where it was written, with `-o`. */
  out?: string
}

/** Progress of a fetch. */
/** `totalBytes`: the whole DAG (0 until its root block is here); `presentBytes`: what was already stored. */
export type FetchProgressEvent = ProgressEvent<'exchange:fetch', { root: string, bytes: number, blocks: number, peers: number, totalBytes: number, presentBytes: number, /** The workspace path being pulled, relative to the project (pull only). */ path?: string }>

/** What `mlp pull` did. */
export interface PullResult {
  fetched: FetchedRoot[]
  checkout: CheckoutOut[]
}

/** What `mlp push` did. */
export interface PushResult {
  roots: string[]
  /** The peer asked to keep a copy, when `--to` was given. */
  to?: string
  replicated?: boolean
}

/** What happened to one stage in `mlp repro`. */
export interface StageOutcome {
  stage: string
  status: 'ran' | 'skipped' | 'restored' | 'failed' | 'blocked' | 'would-run' | 'frozen'
  reasons: string[]
  from?: string
  stderrTail?: string[]
}

/** Events while reproducing: stage state changes and command output lines. */
export type ReproProgress =
  | ProgressEvent<'pipeline:stage', { stage: string, status: StageOutcome['status'] | 'running', reasons: string[], from?: string }>
  | ProgressEvent<'exec:log', { stage: string, stream: 'stdout' | 'stderr', line: string }>
  /** A stage was sent to `peer` as job `job`; its outcome (a later `pipeline:stage` event) ends it. */
  | ProgressEvent<'exec:job', { stage: string, peer: string, job: string }>

/** Options of `mlp repro`. */
export interface ReproRequest {
  cwd: string
  targets?: string[]
  dry?: boolean
  force?: boolean
  downstream?: boolean
  /** Only the named stages, none of what they depend on (DVC's `repro -s`). */
  singleItem?: boolean
  jobs?: number
  keepGoing?: boolean
  runCache?: boolean
  /** Run every stage on this machine, whatever its resources. */
  local?: boolean
  /** Let placement choose simulated GPUs (`executor.simulatedGpus`); without it they never count. */
  simulatedGpus?: boolean
}

/** `mlp dag --json`: expanded stages and edges. */
export interface DagResult {
  /** Paths relative to the project root; `params` per file, `keys` null for a whole file. */
  stages: Array<{ name: string, cmd: string, deps: string[], outs: string[], params: Array<{ file: string, keys: string[] | null }> }>
  edges: Array<[string, string]>
}

/** `mlp stage add`. */
export interface StageAddRequest {
  cwd: string
  name: string
  cmd: string
  deps?: string[]
  outs?: string[]
  outsNoCache?: string[]
  params?: string[]
  metrics?: string[]
  metricsNoCache?: string[]
  gpu?: number
  force?: boolean
}

/** What `mlp stage add` wrote. */
export interface StageAddResult {
  /** The pipeline file written (the one of the folder it was typed in), absolute. */
  file: string
  /** The name typed. */
  stage: string
  /** Its address in the project: `fit` in the root file, `train/mlp.yaml:fit` in a subfolder's. */
  address: string
  /** The file's path from the project root when git does not track it yet: a subfolder's file is read only once it is `git add`ed. */
  untracked?: string
}

/** One row of `mlp params diff` / `mlp metrics diff`. */
export interface ValueDiff {
  file: string
  key: string
  old: unknown
  new: unknown
}

/** One row of `mlp metrics show`. */
export interface MetricValue {
  file: string
  key: string
  value: unknown
}

/** One path `mlp migrate` brought over from DVC. */
export interface MigratedOut {
  /** Relative to the project root. */
  path: string
  /** The `.dvc` file, or `dvc.lock:<stage>`, that recorded it. */
  source: string
  /** Where the data was read: the workspace, or DVC's local cache (then written to the workspace too). */
  from: 'workspace' | 'cache'
  cid: string
  /** `unchanged`: an earlier migration already recorded it as is. */
  state: 'imported' | 'unchanged'
}

/** A `dvc.lock` stage `mlp migrate` recorded in mlp.lock. */
export interface MigratedStage {
  stage: string
  state: 'written' | 'unchanged'
}

/** Something `mlp migrate` did not import, and why. */
export interface MigrateProblem {
  path: string
  source: string
  reason: string
}

/** What `mlp migrate` did. */
export interface MigrateResult {
  root: string
  outs: MigratedOut[]
  stages: MigratedStage[]
  problems: MigrateProblem[]
  /** False when the run wrote nothing: the project was already migrated. */
  changed: boolean
}

/** Every route: request body, result and progress event types. */
export interface Routes {
  id: { request: Record<string, never>, result: IdResult, progress: never }
  'daemon/status': { request: Record<string, never>, result: DaemonStatus, progress: never }
  'daemon/stop': { request: Record<string, never>, result: { stopping: true }, progress: never }
  'peers/ls': { request: { ping?: boolean }, result: PeerInfo[], progress: never }
  'peers/add': { request: { addr: string }, result: PeerInfo, progress: DialProgress }
  init: { request: { cwd: string }, result: { root: string }, progress: never }
  add: { request: { cwd: string, paths: string[] }, result: AddedOut[], progress: AddProgress }
  status: { request: { cwd: string, targets?: string[] }, result: StatusResult, progress: never }
  checkout: { request: { cwd: string, targets?: string[], force?: boolean }, result: CheckoutOut[], progress: CheckoutProgress }
  install: { request: { cwd: string, force?: boolean }, result: InstalledHook[], progress: never }
  ls: { request: { cid: string }, result: LsEntry[], progress: never }
  gc: { request: GcRequest, result: GcResult, progress: never }
  'pins/ls': { request: Record<string, never>, result: PinInfo[], progress: never }
  'pins/rm': { request: { cids: string[] }, result: PinInfo[], progress: never }
  remove: { request: { cwd: string, targets: string[] }, result: RemovedOut[], progress: never }
  migrate: { request: { cwd: string }, result: MigrateResult, progress: never }
  verify: { request: VerifyRequest, result: VerifyResult, progress: VerifyProgress }
  share: { request: { cwd: string, targets: string[] }, result: SharedRoot[], progress: AddProgress }
  fetch: { request: { cwd: string, targets: string[], out?: string }, result: FetchedRoot[], progress: FetchProgressEvent }
  pull: { request: { cwd: string, targets?: string[] }, result: PullResult, progress: FetchProgressEvent | CheckoutProgress }
  push: { request: { cwd: string, targets?: string[], to?: string }, result: PushResult, progress: never }
  repro: { request: ReproRequest, result: StageOutcome[], progress: ReproProgress }
  'team/add': { request: { peerId: string }, result: TeamListing, progress: never }
  'team/rm': { request: { peerId: string }, result: TeamListing, progress: never }
  'team/ls': { request: Record<string, never>, result: TeamListing, progress: never }
  unshare: { request: { cwd: string, targets: string[] }, result: SharedRoot[], progress: never }
  'share/ls': { request: Record<string, never>, result: SharedRoot[], progress: never }
  'trust/add': { request: { peerId: string, roles: TrustRole[] }, result: TrustEntry[], progress: never }
  'trust/rm': { request: { peerId: string, roles?: TrustRole[] }, result: TrustEntry[], progress: never }
  'trust/ls': { request: Record<string, never>, result: TrustEntry[], progress: never }
  jobs: { request: Record<string, never>, result: JobInfo[], progress: never }
  logs: { request: { id: string, follow?: boolean }, result: { id: string, state: JobInfo['state'] }, progress: ProgressEvent<'exec:log', { stage: string, stream: 'stdout' | 'stderr', line: string }> }
  cancel: { request: { id: string }, result: JobInfo, progress: never }
  resources: { request: Record<string, never>, result: Resources, progress: never }
  dag: { request: { cwd: string }, result: DagResult, progress: never }
  'stage/add': { request: StageAddRequest, result: StageAddResult, progress: never }
  'params/diff': { request: { cwd: string, rev?: string }, result: ValueDiff[], progress: never }
  'metrics/show': { request: { cwd: string }, result: MetricValue[], progress: never }
  'metrics/diff': { request: { cwd: string, rev?: string }, result: ValueDiff[], progress: never }
  'plots/show': { request: PlotsShowRequest, result: PlotsResult, progress: never }
  'plots/diff': { request: PlotsDiffRequest, result: PlotsResult, progress: never }
  diff: { request: DiffRequest, result: DiffResult, progress: never }
  report: { request: ReportRequest, result: ReportResult, progress: never }
  'exp/run': { request: ExpRunRequest, result: ExpRunResult, progress: ExpRunProgress }
  'exp/run-all': { request: { cwd: string, jobs?: number }, result: ExpRunResult[], progress: ExpRunProgress }
  'exp/show': { request: { cwd: string, sortBy?: string, sortOrder?: 'asc' | 'desc' }, result: ExpRow[], progress: never }
  'exp/apply': { request: { cwd: string, name: string }, result: ExpApplyResult, progress: never }
  'exp/remove': { request: { cwd: string, name: string }, result: ExpRow, progress: never }
  'exp/diff': { request: { cwd: string, a: string, b?: string }, result: ValueDiff[], progress: never }
  'exp/branch': { request: { cwd: string, name: string, branch: string }, result: ExpBranchResult, progress: never }
}

/**
 * Routes that answer with raw bytes (`application/octet-stream`) instead of
 * NDJSON; an error before the first byte is an NDJSON error frame, an error
 * after it travels in the `x-mlp-error` trailer.
 */
export interface ByteRoutes {
  cat: { request: { cid: string } }
}

/** Every byte route name. */
export const BYTE_ROUTE_NAMES: ReadonlyArray<keyof ByteRoutes> = ['cat']

/** Trailer carrying an error that happened mid-stream on a byte route. */
export const ERROR_TRAILER = 'x-mlp-error'
/**
 * Trailer closing a byte route that ended well: the number of bytes sent. A
 * stream that ends without it (or with another count) is incomplete, however
 * it ended, and the client fails instead of passing on a short body.
 */
export const END_TRAILER = 'x-mlp-end'

/** Name of a route. */
export type RouteName = keyof Routes

/** Every route name, for the server's dispatch table and request validation. */
export const ROUTE_NAMES: readonly RouteName[] = ['id', 'daemon/status', 'daemon/stop', 'peers/ls', 'peers/add', 'init', 'add', 'status', 'checkout', 'install', 'ls', 'gc', 'verify', 'share', 'fetch', 'pull', 'push', 'repro', 'dag', 'stage/add', 'params/diff', 'metrics/show', 'metrics/diff', 'plots/show', 'plots/diff', 'team/add', 'team/rm', 'team/ls', 'unshare', 'share/ls', 'trust/add', 'trust/rm', 'trust/ls', 'jobs', 'logs', 'cancel', 'resources', 'pins/ls', 'pins/rm', 'remove', 'migrate', 'diff', 'report', 'exp/run', 'exp/run-all', 'exp/show', 'exp/apply', 'exp/remove', 'exp/diff', 'exp/branch']

/** One NDJSON line of a response. */
export type Frame<R extends RouteName = RouteName> =
  | { type: 'progress', event: Routes[R]['progress'] }
  | { type: 'result', result: Routes[R]['result'] }
  | { type: 'error', error: ErrorJSON }
