/** How long a diff looks for a peer holding a revision's data before saying it is missing (a fetch waits 10 s). */
export const LISTING_FIND_TIMEOUT_MS = 5_000
/** How long one peer may take to give the listing blocks asked of it. */
export const LISTING_PEER_TIMEOUT_MS = 30_000
/** Most files a diff compares, both sides together: past it the diff stops and says to narrow it with `--targets`. */
export const MAX_DIFF_FILES = 1_000_000
/** Most bytes of listing blocks (directories, shards, file root nodes) a diff holds in memory. */
export const MAX_LISTING_BYTES = 512 * 1024 * 1024
/** Most pointer and lock files read at one revision. */
export const MAX_TRACKING_FILES = 20_000
/** Blocks asked for at once while a listing walks one level of its trees. */
export const LISTING_BATCH = 4096
