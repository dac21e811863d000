/** libp2p protocol id of experiment record sync between teammates. */
export const EXP_PROTOCOL = '/mlp/exp/1.0.0'

/** Largest record accepted, as canonical JSON (locks of a big pipeline fit many times over). */
export const MAX_RECORD_BYTES = 256 * 1024
/** Records kept per author per project (tombstones included); past it a new one is refused. */
export const MAX_RECORDS_PER_AUTHOR = 2000
/** Bytes of records kept per author per project. */
export const MAX_BYTES_PER_AUTHOR = 16 * 1024 * 1024
/** Projects one author's records may span on this daemon: a teammate cannot fill the disk with project ids. */
export const MAX_PROJECTS_PER_AUTHOR = 200
/** Bytes of one author's records across every project: all of them are held in memory too. */
export const MAX_BYTES_PER_AUTHOR_TOTAL = 32 * 1024 * 1024
/** Bytes of one author's records for projects this machine does not know (exp/projects.ts): enough for a teammate's experiments in a project not cloned here yet, not for a flood of made-up project ids. */
export const MAX_UNKNOWN_PROJECT_BYTES = 1024 * 1024

/** Params or metrics rows in one record. */
export const MAX_VALUES = 2000
/** Lock files in one record. */
export const MAX_LOCKS = 64
/** Stages named in `ranOn`. */
export const MAX_STAGES = 2000
/** Longest experiment name. */
export const MAX_NAME_LENGTH = 64
/** Longest reason a failed record gives (one line). */
export const MAX_REASON_LENGTH = 500

/** Largest code patch stored with an experiment (`git diff --binary`); bigger edits belong in a commit. */
export const MAX_PATCH_BYTES = 32 * 1024 * 1024

/** Bytes of records per message on the sync protocol (frames are capped at 2 MiB). */
export const SYNC_BATCH_BYTES = 1024 * 1024
/** Records refused in one sync stream before it is cut off: a teammate sending junk gets a few log lines, not one per record. */
export const MAX_REFUSED_PER_SYNC = 100
/** Messages one sync stream may carry before it is cut off. */
export const MAX_SYNC_MESSAGES = 2000
/** How long a sync with one peer may take. */
export const SYNC_TIMEOUT_MS = 10_000
