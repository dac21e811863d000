/**
 * A block's bytes: one array, or the pieces it arrived in off the wire (in
 * order). The store writes pieces where they go without joining them first.
 */
export type BlockBytes = Uint8Array | readonly Uint8Array[]

/** Bytes in `bytes`, whole or in pieces. */
export function blockLength (bytes: BlockBytes): number {
  if (bytes instanceof Uint8Array) return bytes.byteLength
  let n = 0
  for (const p of bytes) n += p.byteLength
  return n
}
