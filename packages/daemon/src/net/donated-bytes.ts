/**
 * Bytes that may be encrypted where they lie. Noise's encrypt normally
 * writes every message into a new array (1 GiB of them for a 1 GiB fetch,
 * and their garbage collection); a block the exchange serves is read into
 * an array of its own and never read again once sent, so its bytes can
 * become their own ciphertext.
 *
 * Two parties must agree, so no byte anyone else may still read is ever
 * overwritten: the code that allocates an array marks it fresh
 * ({@link markFresh}: nothing else holds it), and the code that last uses
 * a view into it gives it away ({@link donate}: it will not read it again).
 * Everything else (handshake keys, headers, any other protocol's bytes,
 * Node's shared pool) is encrypted into a new array as before.
 */
const fresh = new WeakSet<ArrayBufferLike>()
const donated = new WeakSet<ArrayBufferLike>()

/**
 * Records that `bytes` owns its memory alone: a new allocation such as
 * `Buffer.allocUnsafeSlow`'s. A view that does not span its whole array (a
 * slice of Node's shared pool, say) is not recorded.
 */
export function markFresh (bytes: Uint8Array): void {
  if (bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength) fresh.add(bytes.buffer)
}

/**
 * Gives `bytes` (a view into an array marked fresh by the same code path)
 * to the transport: from here its memory may be overwritten with
 * ciphertext, so the caller must not read it, nor any other view into the
 * same array that it has not also given away.
 */
export function donate (bytes: Uint8Array): void {
  if (fresh.has(bytes.buffer)) donated.add(bytes.buffer)
}

/** Whether `bytes` may be encrypted in place. */
export function isDonated (bytes: Uint8Array): boolean {
  return donated.has(bytes.buffer)
}
