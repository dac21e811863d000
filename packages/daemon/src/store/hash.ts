import { createRequire } from 'node:module'
import { CID } from 'multiformats/cid'
import * as Digest from 'multiformats/hashes/digest'
import { BLAKE3_CODE } from './constants.js'

type HashFn = (bytes: Uint8Array) => Uint8Array

/**
 * BLAKE3 from the native `@napi-rs/blake-hash` (about 7 GB/s here); if its
 * prebuilt binary cannot load on this platform, `hash-wasm` (about 0.9 GB/s).
 */
async function loadBlake3 (): Promise<{ fn: HashFn, impl: string }> {
  const require = createRequire(import.meta.url)
  try {
    const native = require('@napi-rs/blake-hash') as { blake3: (input: Buffer) => Buffer }
    return {
      impl: 'native',
      fn: (bytes) => native.blake3(Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength))
    }
  } catch {
    const hasher = await (await import('hash-wasm')).createBLAKE3()
    return {
      impl: 'wasm',
      fn: (bytes) => {
        hasher.init()
        hasher.update(bytes)
        return hasher.digest('binary')
      }
    }
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

/** True when `bytes` hash to `cid`'s digest. Only BLAKE3 ids are accepted. */
export function matchesCid (cid: CID, bytes: Uint8Array): boolean {
  if (cid.multihash.code !== BLAKE3_CODE) return false
  const digest = blake3.fn(bytes)
  const expected = cid.multihash.digest
  if (digest.length !== expected.length) return false
  for (let i = 0; i < digest.length; i++) if (digest[i] !== expected[i]) return false
  return true
}
