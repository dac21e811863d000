/**
 * Page-aligned buffers for direct I/O (`O_DIRECT`) pack writes.
 *
 * Node has no aligned allocator: a large `Buffer` comes from malloc and
 * starts 16 bytes past a page boundary, which O_DIRECT either refuses
 * (EINVAL, not 512-aligned) or, when only 512-aligned, writes about ten
 * times slower than from a page boundary (measured: 128 MiB in 4 s against
 * 0.28 s on this VM's ext4). A WebAssembly memory is mapped by V8 from the
 * OS page allocator, so its first byte is always on a page boundary.
 */

/** Offsets, lengths and buffer addresses of direct writes are multiples of this (the page size; every disk's logical block divides it). */
export const DIRECT_IO_ALIGN = 4096

/** The part of the WebAssembly API used here (this project's type libraries do not declare it). */
interface WasmMemoryApi { Memory: new (desc: { initial: number, maximum: number }) => { buffer: ArrayBuffer } }

/** WebAssembly memories grow in pages of this size. */
const WASM_PAGE_BYTES = 64 * 1024

/** Rounds `n` up to a multiple of {@link DIRECT_IO_ALIGN}. */
export function alignUp (n: number): number {
  return Math.ceil(n / DIRECT_IO_ALIGN) * DIRECT_IO_ALIGN
}

/** Rounds `n` down to a multiple of {@link DIRECT_IO_ALIGN}. */
export function alignDown (n: number): number {
  return n - (n % DIRECT_IO_ALIGN)
}

/**
 * A buffer of at least `bytes` whose first byte is page-aligned, or
 * `undefined` where the runtime cannot map one (no WebAssembly, or the
 * address space is exhausted): the caller then writes without O_DIRECT.
 */
export function allocAligned (bytes: number): Buffer | undefined {
  try {
    const pages = Math.max(1, Math.ceil(bytes / WASM_PAGE_BYTES))
    const wasm = (globalThis as unknown as { WebAssembly?: WasmMemoryApi }).WebAssembly
    if (wasm == null) return undefined
    const memory = new wasm.Memory({ initial: pages, maximum: pages })
    return Buffer.from(memory.buffer, 0, bytes)
  } catch {
    return undefined
  }
}
