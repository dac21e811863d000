/** Multicodec of raw leaves. */
export const RAW_CODEC = 0x55
/** Multicodec of dag-pb (UnixFS file and directory nodes). */
export const DAG_PB_CODEC = 0x70
/** Multihash code of BLAKE3 (32-byte digests). */
export const BLAKE3_CODE = 0x1e

/** Most links in one UnixFS file node; deeper files get intermediate nodes (a balanced tree). */
export const FILE_FANOUT = 1024

/**
 * A pack file is closed and a new one started past this size (1 GiB).
 * `MLP_PACK_TARGET_BYTES` overrides it, read once at load: for tests, which
 * need many small packs (gc compaction) from a few MB of data.
 */
export const PACK_TARGET_BYTES = packTargetBytes(process.env.MLP_PACK_TARGET_BYTES)

function packTargetBytes (override: string | undefined): number {
  const n = Number(override)
  // anything but a positive whole number (unset, empty, junk) keeps the default
  return override != null && Number.isSafeInteger(n) && n > 0 ? n : 1024 * 1024 * 1024
}
/**
 * Appends are coalesced into writes of about this size. With direct I/O a
 * 4 MiB write costs the disk no more than an 8 MiB one, and the buffers
 * (up to five of them while a fetch streams) are resident: 8 -> 4 MiB took
 * a 1 GiB fetch's peak RSS from about 250 to 225 MB, a 1 GiB add's from
 * 208 to 190 MB; 2 MiB gained nothing more.
 */
export const PACK_WRITE_BUFFER_BYTES = 4 * 1024 * 1024
/**
 * Bytes read from a file per read call while importing. A big file's
 * chunking worker keeps WORKER_BUFFERS of these (plus one maximal chunk
 * each) in circulation: 8 -> 4 MiB took a long-lived daemon's peak RSS
 * during a 4 GiB add from 197/208/210 to 180/184/184 MB (interleaved runs,
 * 2026-12-03), with no change in the add's CPU beyond noise.
 */
export const IMPORT_READ_BYTES = 4 * 1024 * 1024
/** During a long import the index is committed every this many bytes, so a crash loses little. */
export const COMMIT_EVERY_BYTES = 256 * 1024 * 1024
/** Files at most this large are read in one synchronous call: cheaper than three thread-pool hops. */
export const SMALL_FILE_BYTES = 1024 * 1024

/** The buffer an import reads small files into, one after the other, before the blocks cut from them are stored (store/importer.ts). */
export const SLAB_BYTES = 8 * 1024 * 1024
/** Files from this size on are read and chunked on a worker thread (starting one costs tens of ms). */
export const WORKER_FILE_BYTES = 64 * 1024 * 1024
/** Read buffers in circulation between a chunking worker and the main thread. */
export const WORKER_BUFFERS = 3
/** A stat-cache entry is trusted only if the file's mtime is this much older than the entry (racy-git). */
export const RACY_MARGIN_MS = 100
/** Progress events are sent at most this often. */
export const PROGRESS_INTERVAL_MS = 100
/** Blocks handed to the store per index lookup during an import. */
export const BLOCK_BATCH_COUNT = 256
export const BLOCK_BATCH_BYTES = 16 * 1024 * 1024

/**
 * gc rewrites a pack only when less than this share of its bytes is live
 * (config key `gcCompactBelow`). Rewriting copies every live byte:
 * compacting a 1 GiB pack for one dead block would write 1 GiB to return a
 * few KB. Below one half, each byte copied returns at least one byte to the disk.
 */
export const DEFAULT_COMPACT_BELOW = 0.5
