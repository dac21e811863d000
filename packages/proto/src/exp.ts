import { define } from './errors.js'
import type { ReproProgress, StageOutcome, ValueDiff } from './api.js'

// Types and errors of `mlp exp`: experiments recorded as small documents
// signed by their author's peer key and synced between teammates.

/** An experiment command cannot do what was asked (the message says why and what to do). */
export const ExpError = define('ExpError', 'Experiment command failed')
/** No experiment of this project has that name (`mlp exp show` lists them). */
export const ExpNotFoundError = define('ExpNotFoundError', 'No such experiment')
/** The project has no project id (initialised before experiments existed): `mlp init` adds one. */
export const ProjectIdMissingError = define('ProjectIdMissingError', 'This project has no project id: run `mlp init` to add one, then commit .mlp/config.yaml')

/** Where an experiment is in its life. `removed` is a tombstone: `mlp exp remove` spreads it. */
export type ExpState = 'queued' | 'running' | 'done' | 'failed' | 'removed'

/** One lock file of the experiment's pipeline, as text, by its path from the project root. */
export interface ExpLock {
  path: string
  text: string
}

/** The stored code and params changes: `git diff --binary <base>` at the start of the run, in the block store. */
export interface ExpPatch {
  cid: string
  size: number
}

/**
 * An experiment record: what `mlp exp run` saw and produced. `sig` is the
 * base64 Ed25519 signature, by `author`'s peer key, of the canonical JSON of
 * every other field (see the daemon's exp/record.ts). A record is identified
 * by (project, author, name); a later `at` replaces an earlier one.
 */
export interface ExpRecord {
  /** Format version. */
  v: 1
  /** The project's random id (`.mlp/config.yaml`), not its path or its root commit. */
  project: string
  /** Peer id of the daemon that ran it and signed the record. */
  author: string
  name: string
  state: ExpState
  /** The git commit the experiment started from (40 hex digits). */
  base: string
  /** Uncommitted changes to git-tracked files at the start (code and params). */
  patch?: ExpPatch
  /** Params that differ from the base commit. */
  params: ValueDiff[]
  /** The pipeline's metrics after the run: file, key, value. */
  metrics: Array<{ file: string, key: string, value: unknown }>
  /** Every pipeline file's lock after the run (outs' content ids). */
  locks: ExpLock[]
  /** Stage name to the peer id it ran on (this machine, a GPU peer, or whoever's run cache gave it). */
  ranOn: Record<string, string>
  /** ISO time the run started. */
  startedAt: string
  durationMs: number
  /** ISO time the record was signed: the newest version of a record wins. */
  at: string
  /** Why a `failed` experiment failed, in one line (`interrupted: the daemon stopped during the run`, the failed stage, ...). */
  reason?: string
  sig: string
}

/** `mlp exp run`'s request. */
export interface ExpRunRequest {
  cwd: string
  /** `[file:]key=value`, as `dvc exp run -S`. */
  set?: string[]
  name?: string
  /** Record it as queued, to run with `exp/run-all`; the workspace is not touched. */
  queue?: boolean
}

/** `mlp exp run`'s answer. */
export interface ExpRunResult {
  record: ExpRecord
  outcomes: StageOutcome[]
}

/** One row of `mlp exp show`: a record without its signature and lock text. */
export interface ExpRow {
  name: string
  /** Author's peer id. */
  by: string
  /** True when this machine's daemon is the author. */
  mine: boolean
  base: string
  state: ExpState
  /** Peer ids the stages ran on, each once. */
  where: string[]
  startedAt: string
  durationMs: number
  params: ValueDiff[]
  metrics: Array<{ file: string, key: string, value: unknown }>
  patch?: ExpPatch
  /** Why it failed, when it did. */
  reason?: string
}

/** `mlp exp apply`'s answer. */
export interface ExpApplyResult {
  name: string
  by: string
  /** False when the workspace already held the experiment's code changes. */
  patched: boolean
  /** What the patch changed, as `git apply --numstat --summary` says it (`added<TAB>deleted<TAB>path`, `create mode 100644 path`); empty when nothing was patched. */
  changes: string[]
  /** Lock files written, from the project root. */
  locks: string[]
  /** Outs checked out, from the project root. */
  outs: string[]
}

/** `mlp exp branch`'s answer. */
export interface ExpBranchResult {
  branch: string
  commit: string
}

/** Progress of `mlp exp run`: the pipeline's events. */
export type ExpRunProgress = ReproProgress
