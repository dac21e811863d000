/**
 * Node options a background daemon is started with (`mlp daemon start`).
 *
 * The young generation is capped at 4 MiB semi-spaces (V8's default grows
 * them to 16 MiB, 48 MiB resident with the three it keeps). A daemon streams
 * every block through short-lived arrays, so what survives a scavenge is
 * small and a bigger nursery only holds more garbage resident. Measured here
 * (2026-12-03, interleaved runs): 1 GiB fetch peak RSS 200-203 -> 179-185 MB
 * at the same speed (124/151/156 vs 157/150/151 MB/s); a long-lived daemon
 * after three 256 MiB CSV adds and a verify, then a 4 GiB add: 225/235 ->
 * 203/211 MB; 1 GiB add 196 -> 166 MB for about 0.1 CPU-s more. 2 MiB cost
 * the fetch 0.6 CPU-s per GiB for little more memory, so 4 it is.
 */
export const DAEMON_NODE_FLAGS: readonly string[] = ['--max-semi-space-size=4']
