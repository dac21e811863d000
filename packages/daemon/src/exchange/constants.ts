/** Block ids per WANT message. */
export const WANT_BATCH = 64
/** WANT messages in flight, all peers of a fetch together: with ~80 KiB blocks, about 40 MB. */
export const WANTS_IN_FLIGHT = 8
/** WANT messages in flight per peer at least: one being answered, one queued behind it. */
export const MIN_WANTS_PER_PEER = 2
/** How long to keep looking for a provider of a root before giving up. */
export const FIND_TIMEOUT_MS = 10_000
/** How long one peer may take to answer a HAS. */
export const HAS_TIMEOUT_MS = 3_000
/** A peer that sends nothing for this long while we wait on it is dropped from the fetch. */
export const PEER_IDLE_TIMEOUT_MS = 30_000
/** Commit fetched blocks every this many bytes, so an interrupted fetch resumes from there. */
export const FETCH_COMMIT_BYTES = 64 * 1024 * 1024
/** Inbound exchange streams one peer may hold open at once. */
export const MAX_INBOUND_STREAMS = 16
/**
 * An inbound request stream that sends nothing for this long is closed
 * (slowloris). MLP_STREAM_IDLE_MS overrides it, for tests.
 */
export const STREAM_IDLE_MS = Number(process.env.MLP_STREAM_IDLE_MS ?? 30_000)
/** Failures (timeouts, closed streams) after which a peer is left out of the rest of a fetch. */
export const MAX_PEER_FAILURES = 3
/** Rounds in a row in which every peer answered that it lacks what is left, before the fetch fails. */
export const MAX_STALLED_ROUNDS = 8
/**
 * How long a fetch goes on storing nothing while its peers fail (time out,
 * drop streams) before it gives up: a seed serving many fetchers at once is
 * slow, not gone.
 */
export const FETCH_PATIENCE_MS = 180_000
/** The longest pause between tries of failing peers. */
export const MAX_RETRY_PAUSE_MS = 8_000
/** Pause before asking again peers that said they lacked blocks (they may be fetching them too). */
export const STALLED_RETRY_MS = 500
/** Blocks one wave of a fetch asks for at most (counting the children a node will bring): bounds memory on any DAG size. */
export const WAVE_BLOCKS = 4096
/** The chunker's mean block size, to guess how many children a node has from its size. */
export const AVERAGE_CHUNK_BYTES = 80 * 1024
