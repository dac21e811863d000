/** TCP port the daemon listens on when neither config nor flags say otherwise. */
export const DEFAULT_PORT = 4737

/** Default listen addresses: every IPv4 interface on {@link DEFAULT_PORT}. */
export const DEFAULT_LISTEN: readonly string[] = [`/ip4/0.0.0.0/tcp/${DEFAULT_PORT}`]

/** How long `peers add` waits for a dial before giving up. */
export const DIAL_TIMEOUT_MS = 10_000

/** How long one ping for `mlp peers` may take before latency is reported as unknown. */
export const PING_TIMEOUT_MS = 1_500

/** First and largest delay between redials of a remembered peer (doubling in between). */
export const REDIAL_MIN_MS = 1_000
export const REDIAL_MAX_MS = 60_000

/** Largest request body the local API accepts. */
export const MAX_API_BODY_BYTES = 1024 * 1024
