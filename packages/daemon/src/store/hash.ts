import { createRequire } from 'node:module'
import { CID } from 'multiformats/cid'
import * as Digest from 'multiformats/hashes/digest'
import { BLAKE3_CODE } from './constants.js'

type HashFn = (bytes: Uint8Array) => Uint8Array
/** The hash of the bytes of `parts` one after another. */
type PartsHashFn = (parts: readonly Uint8Array[]) => Uint8Array

function asBuffer (bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)
}

/**
 * BLAKE3 from the native `@napi-rs/blake-hash` (about 7 GB/s here); if its
 * prebuilt binary cannot load on this platform, `hash-wasm` (about 0.9 GB/s).
 */
async function loadBlake3 (): Promise<{ fn: HashFn, parts: PartsHashFn, impl: string }> {
  const require = createRequire(import.meta.url)
  try {
    const native = require('@napi-rs/blake-hash') as { blake3: (input: Buffer) => Buffer, Blake3Hasher: new () => { reset: () => void, update: (b: Buffer) => void, digestBuffer: () => Buffer } }
    // one hasher, reset per use: hashing is synchronous, so uses never overlap,
    // and a new hasher per block cost more than the hashing (measured). Over
    // pieces it is slower than one call over joined bytes (1.25 against
    // 0.4 s per GiB fetched): the fetch joins into a reused buffer instead
    // (exchange/piece-joiner.ts); this is for callers holding only pieces
    const hasher = new native.Blake3Hasher()
    return {
      impl: 'native',
      fn: (bytes) => native.blake3(asBuffer(bytes)),
      parts: (parts) => {
        if (parts.length === 1) return native.blake3(asBuffer(parts[0]))
        hasher.reset()
        for (const p of parts) hasher.update(asBuffer(p))
        return hasher.digestBuffer()
      }
    }
  } catch {
    const hasher = await (await import('hash-wasm')).createBLAKE3()
    const parts: PartsHashFn = (list) => {
      hasher.init()
      for (const p of list) hasher.update(p)
      return hasher.digest('binary')
    }
    return { impl: 'wasm', fn: (bytes) => parts([bytes]), parts }
  }
}

const blake3 = await loadBlake3()

/** Which BLAKE3 implementation is in use: `native` or `wasm`. */
export const BLAKE3_IMPL = blake3.impl

/** BLAKE3-256 of `bytes`. */
export function blake3Hash (bytes: Uint8Array): Uint8Array {
  return blake3.fn(bytes)
}

/** The CIDv1 of `bytes` under `codec`, with a BLAKE3 multihash. */
export function cidOf (codec: number, bytes: Uint8Array): CID {
  return CID.createV1(codec, Digest.create(BLAKE3_CODE, blake3.fn(bytes)))
}

/**
 * True when `bytes` hash to `cid`'s digest. Only BLAKE3 ids are accepted.
 * `bytes` may be the block in pieces (as it came off the wire): they are
 * hashed one after another, never joined.
 */
export function matchesCid (cid: CID, bytes: Uint8Array | readonly Uint8Array[]): boolean {
  if (cid.multihash.code !== BLAKE3_CODE) return false
  const digest = bytes instanceof Uint8Array ? blake3.fn(bytes) : blake3.parts(bytes)
  const expected = cid.multihash.digest
  if (digest.length !== expected.length) return false
  for (let i = 0; i < digest.length; i++) if (digest[i] !== expected[i]) return false
  return true
}
