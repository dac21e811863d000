import { nativeAddon } from './native.js'

const MiB = 1024 * 1024

/**
 * Arrays up to this size come from the C heap, not a mapping of their own:
 * a pack read for serving (up to 4 MiB) then reuses freed memory.
 */
export const MMAP_THRESHOLD_BYTES = 16 * MiB

/**
 * Free memory kept at the heap top after a garbage collection, rather than
 * handed back to the kernel, for the next arrays to reuse.
 */
export const TRIM_THRESHOLD_BYTES = Number(process.env.MLP_MALLOC_TRIM_BYTES ?? 64 * MiB)

/**
 * Keeps the memory of the arrays a daemon streams blocks through mapped
 * between uses (see `tuneMalloc` in native/mlp_native.c). With glibc's
 * defaults every 4 MiB pack read was a fresh mapping and every collection
 * gave the heap top back, so each byte read or received page-faulted anew:
 * reading and hashing 1 GiB of a pack in 4 MiB arrays cost 1.8-3.3 CPU-s
 * that way against 0.4-0.5 CPU-s with these settings. Process-wide, so only
 * the daemon calls it; the commands it runs for pipelines are separate
 * processes with the C library's defaults. Returns whether it took effect
 * (no on non-glibc systems, without the native addon, or with
 * `MLP_TUNE_MALLOC=0`).
 */
export function tuneAllocator (): boolean {
  if (process.env.MLP_TUNE_MALLOC === '0' || nativeAddon == null) return false
  tuned = nativeAddon.tuneMalloc(MMAP_THRESHOLD_BYTES, TRIM_THRESHOLD_BYTES)
  return tuned
}

let tuned = false

/** Whether {@link tuneAllocator} took effect in this process (`mlp daemon status --json` shows it). */
export function allocatorTuned (): boolean {
  return tuned
}
