/**
 * FastCDC content-defined chunking (Xia et al., 2016) with normalized chunking
 * (level 2): a gear hash over the bytes after the minimum size, a stricter
 * mask before the normal size and a looser one after it. Cut points depend
 * only on nearby content, so an insertion changes the chunks around it and
 * nothing else.
 *
 * The gear table and sizes below define every content id mlp produces:
 * changing any of them changes the ids of all data, so they are fixed.
 */

import { nativeAddon } from '../native.js'

/** Chunk size bounds in bytes. */
export interface ChunkerOptions {
  minSize: number
  normalSize: number
  maxSize: number
}

/** mlp's chunk sizes: 32 KiB min, 64 KiB normal, 256 KiB max (mean about 80 KiB measured on random data). */
export const DEFAULT_CHUNKER: Readonly<ChunkerOptions> = { minSize: 32 * 1024, normalSize: 64 * 1024, maxSize: 256 * 1024 }

/** 256 pseudo-random 32-bit values from a fixed seed (splitmix32), so every build agrees. */
const GEAR = (() => {
  const table = new Int32Array(256)
  let state = 0x6d6c7031 // "mlp1"
  for (let i = 0; i < 256; i++) {
    state = (state + 0x9e3779b9) | 0
    let z = state
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b)
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35)
    table[i] = z ^ (z >>> 16)
  }
  return table
})()

/** A mask of `bits` one-bits taken from the top of the 32-bit hash (the bits that mix the most bytes). */
function topMask (bits: number): number {
  return bits >= 32 ? -1 : (~((1 << (32 - bits)) - 1)) | 0
}

/**
 * Finds the length of the first chunk of `buf[start, end)`. When fewer than
 * `maxSize` bytes remain and `final` is false, returns -1: the caller must
 * supply more bytes before a cut can be chosen.
 */
export function findCut (buf: Uint8Array, start: number, end: number, final: boolean, opts: ChunkerOptions = DEFAULT_CHUNKER): number {
  const avail = end - start
  if (avail <= opts.minSize) return final ? avail : -1
  if (avail < opts.maxSize && !final) return -1
  const bits = Math.round(Math.log2(opts.normalSize))
  const maskS = topMask(bits + 2)
  const maskL = topMask(bits - 2)
  const normalEnd = start + Math.min(opts.normalSize, avail)
  const hardEnd = start + Math.min(opts.maxSize, avail)
  const from = start + opts.minSize
  if (from >= hardEnd) return hardEnd - start
  // the same loop in C (native/mlp_native.c) where the addon is built:
  // FastCDC took 0.5 CPU-s per GiB here in JavaScript, 0.23 native
  const cut = nativeAddon != null ? nativeAddon.gearCut : gearCut
  return cut(buf, from, Math.max(normalEnd, from), hardEnd, maskS >>> 0, maskL >>> 0) - start
}

/**
 * The index just past the first gear-hash cut in `buf[from, hardEnd)`: the
 * hash starts at zero at `from`, must clear `maskS` before `normalEnd` and
 * `maskL` after it; `hardEnd` when neither happens. The native addon's
 * `gearCut` is this loop in C, cut for cut.
 */
export function gearCut (buf: Uint8Array, from: number, normalEnd: number, hardEnd: number, maskS: number, maskL: number): number {
  let hash = 0
  let i = from
  for (; i < normalEnd; i++) {
    hash = ((hash << 1) + GEAR[buf[i]]) | 0
    if ((hash & maskS) === 0) return i + 1
  }
  for (; i < hardEnd; i++) {
    hash = ((hash << 1) + GEAR[buf[i]]) | 0
    if ((hash & maskL) === 0) return i + 1
  }
  return hardEnd
}
