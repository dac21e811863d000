/**
 * Named error classes shared by the daemon and the CLI. Errors cross the local
 * API as `{ name, message }`; {@link errorFromJSON} rebuilds the same class on
 * the other side so callers can match on `err.name`.
 */

/** The shape an error takes on the wire. */
export interface ErrorJSON {
  name: string
  message: string
}

/** Base class: every mlp error carries a stable `name` and a one-line message. */
export class MlpError extends Error {
  static readonly code: string = 'MlpError'
  constructor (message: string, options?: ErrorOptions) {
    super(message, options)
    this.name = (this.constructor as typeof MlpError).code
  }
}

const registry = new Map<string, MlpErrorClass>()

/** An error class made by {@link define}: its message is optional. */
export interface MlpErrorClass {
  new (message?: string, options?: ErrorOptions): MlpError
  readonly code: string
}

/** Makes a named error class with a default message and registers it, so it survives the API round trip. */
export function define (code: string, defaultMessage: string): MlpErrorClass {
  const cls = class extends MlpError {
    static override readonly code = code
    constructor (message: string = defaultMessage, options?: ErrorOptions) {
      super(message, options)
    }
  }
  Object.defineProperty(cls, 'name', { value: code })
  registry.set(code, cls)
  return cls
}

/** No daemon answers on the API socket of this `MLP_HOME`. */
export const DaemonNotRunningError = define('DaemonNotRunningError', 'The mlp daemon is not running: start it with `mlp daemon start`')
/** A daemon already runs for this `MLP_HOME`. */
export const AlreadyRunningError = define('AlreadyRunningError', 'The mlp daemon is already running')
/** The daemon could not start (it exited or timed out before its API answered). */
export const DaemonStartError = define('DaemonStartError', 'The mlp daemon failed to start')
/** `config.yaml` is malformed or names an unknown key or a bad value. */
export const ConfigError = define('ConfigError', 'Invalid configuration')
/** A string that should be a multiaddr is not one. */
export const InvalidMultiaddrError = define('InvalidMultiaddrError', 'Invalid multiaddr')
/** A listen address is already taken by another process. */
export const AddressInUseError = define('AddressInUseError', 'Listen address already in use')
/** A peer could not be dialed. */
export const DialError = define('DialError', 'Could not connect to the peer')
/** A peer id string is malformed. */
export const InvalidPeerIdError = define('InvalidPeerIdError', 'Invalid peer id')
/** The request to the local API was malformed. */
export const BadRequestError = define('BadRequestError', 'Bad request')
/** The local API has no such route (CLI and daemon versions differ). */
export const UnknownRouteError = define('UnknownRouteError', 'Unknown API route')
/** The operation was aborted (Ctrl-C, a timeout, the daemon stopping). */
export const AbortError = define('AbortError', 'The operation was aborted')
/** A fault inside the daemon that has no better class. */
export const InternalError = define('InternalError', 'Internal daemon error')

/** Serialises any thrown value for the wire; unknown errors become `InternalError`. */
export function errorToJSON (err: unknown): ErrorJSON {
  if (err instanceof MlpError) return { name: err.name, message: err.message }
  if (err instanceof Error && err.name === 'AbortError') return { name: 'AbortError', message: err.message }
  const message = err instanceof Error ? err.message : String(err)
  return { name: 'InternalError', message }
}

/** Rebuilds the named class from its wire form; unknown names become `MlpError` with that name. */
export function errorFromJSON (json: ErrorJSON): MlpError {
  const ErrorClass = registry.get(json.name)
  if (ErrorClass != null) return new ErrorClass(json.message)
  const err = new MlpError(json.message)
  err.name = json.name
  return err
}

/** A content id string that does not parse. */
export const InvalidCidError = define('InvalidCidError', 'Invalid content id')
/** A block that is not in the local store. */
export const BlockNotFoundError = define('BlockNotFoundError', 'Block not found in the local store')
/** A stored block whose bytes no longer hash to its id. */
export const CorruptBlockError = define('CorruptBlockError', 'Stored block is corrupt')
/** gc found a quarantined DAG node under a root: it cannot tell what the node links to, so it removes nothing. */
export const QuarantinedNodeError = define('QuarantinedNodeError', 'A DAG node under a gc root is quarantined')
/** The disk holding the store is full. */
export const DiskFullError = define('DiskFullError', 'The disk is full')
/** The working directory is not inside an mlp project. */
export const NotAProjectError = define('NotAProjectError', 'Not an mlp project: run `mlp init` in your git repository')
/** `mlp init` outside a git repository. */
export const NotAGitRepoError = define('NotAGitRepoError', 'Not a git repository: run `git init` first')
/** `mlp init` where `.mlp/` already exists. */
export const AlreadyInitializedError = define('AlreadyInitializedError', 'Already an mlp project')
/** A path given by the user that cannot be tracked (missing, outside the project, a device...). */
export const PathError = define('PathError', 'Cannot use this path')
/** A `.mlp` pointer file that is malformed. */
export const PointerFileError = define('PointerFileError', 'Malformed pointer file')
/** A DAG node that does not decode as UnixFS. */
export const InvalidDagError = define('InvalidDagError', 'Not a valid UnixFS node')
/** A name or path that mlp refuses to write (`..`, `.git` in any spelling, a duplicate), or a write that would go through a symlink. */
export const UnsafePathError = define('UnsafePathError', 'Refused a path that could write outside its destination')
/** mlp.yaml / dvc.yaml, mlp.lock or a params file is invalid (cycle, duplicate out, syntax...). */
export const PipelineFileError = define('PipelineFileError', 'Invalid pipeline file')
/** A stage's command failed. */
export const StageFailedError = define('StageFailedError', 'A stage failed')
/** A peer refused to run a stage for us (we are not on its trust list). */
export const NotTrustedError = define('NotTrustedError', 'The peer does not trust this machine')
/** A peer's job result or run-cache entry is not believed: bad or missing signature, a signer without `--results`, or outs other than the stage declares. */
export const UntrustedResultError = define('UntrustedResultError', 'A result from a peer was rejected')
/** This executor cannot sandbox a peer's job (no bubblewrap, or no namespaces) and was not told to run jobs unsandboxed. */
export const SandboxUnavailableError = define('SandboxUnavailableError', 'Cannot sandbox the job')
/** The Slurm executor cannot reach Slurm (slurmctld down, or a Slurm command missing). */
export const SlurmUnavailableError = define('SlurmUnavailableError', 'Slurm does not answer')
/** A stage cannot be expressed as a Slurm job (a resource Slurm has no flag for), or Slurm ended it (TIMEOUT, OUT_OF_MEMORY, NODE_FAIL, PREEMPTED...). */
export const SlurmJobError = define('SlurmJobError', 'The Slurm job failed')
/** No machine offers what a stage asks for. */
export const NoEligiblePeerError = define('NoEligiblePeerError', 'No peer can run this stage')
/** A team line (`mlp-team:v1:<hex>`) or swarm key that is malformed, or a different key already in place. */
export const TeamKeyError = define('TeamKeyError', 'Invalid team key')
/** `mlp team rm` of a peer that was not added with `mlp team add`. */
export const NotInTeamError = define('NotInTeamError', 'The peer was not added to the team')
/** `mlp unshare` of something that is not shared. */
export const NotSharedError = define('NotSharedError', 'Not shared')
/** A peer refused to keep a copy (`push --to`): not a teammate, over its quota, or too little disk. */
export const ReplicaRefusedError = define('ReplicaRefusedError', 'The peer refused to keep a copy')
/** A job id that no daemon here knows. */
export const JobNotFoundError = define('JobNotFoundError', 'No such job')
/** A job id prefix that more than one job starts with; the message lists them. */
export const AmbiguousJobIdError = define('AmbiguousJobIdError', 'The job id prefix matches more than one job')
/** gc could not learn every root (a branch's pointer file unreadable, more refs or commits than gc reads): nothing was removed. */
export const GcRootsError = define('GcRootsError', 'Cannot collect the gc roots')
/** `mlp remove` of a path no pointer file tracks, or `mlp gc --forget` of a path that is not a missing registered project. */
export const NotTrackedError = define('NotTrackedError', 'Not tracked')
/** `mlp pins rm` of a content id that is not pinned. */
export const PinNotFoundError = define('PinNotFoundError', 'Not pinned')

/** `mlp checkout`/`pull` kept workspace files whose content the store does not know (local edits). */
export const LocalEditsError = define('LocalEditsError', 'Local edits were kept: `mlp checkout --force` overwrites them')

/** `mlp install` found a git hook it did not write. */
export const HookExistsError = define('HookExistsError', 'A git hook mlp did not write is in the way: `mlp install --force` moves it aside')
