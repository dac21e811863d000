import { createCipheriv } from 'node:crypto'
import { noise, type ICryptoInterface, type NoiseComponents, type NoiseExtensions } from '@chainsafe/libp2p-noise'
import { defaultCrypto } from '@chainsafe/libp2p-noise/crypto'
import type { ConnectionEncrypter } from '@libp2p/interface'
import { Uint8ArrayList } from 'uint8arraylist'
import { nativeAddon, type NativeAddon } from '../native.js'
import { isDonated } from './donated-bytes.js'

/** Largest Noise transport message, tag included (the Noise spec's limit). */
const NOISE_MAX_MESSAGE = 65535
/** Bytes of the ChaCha20-Poly1305 tag at the end of every message. */
const TAG_BYTES = 16
/** Below this many bytes the library's crypto uses its WebAssembly ChaCha20 (and the in-place `dst`), from here OpenSSL's. */
const SMALL_MESSAGE = 1200
/** The native addon takes at most this many pieces per message; a message in more goes the library's way. */
const MAX_NATIVE_PIECES = 64
/**
 * Passed as `dst` by {@link decryptWithoutCopy} on our own connections: the
 * ciphertext may be decrypted where it lies. The handshake passes no `dst`
 * (it hashes the ciphertext after decrypting it), so it never gets this.
 */
const IN_PLACE = new Uint8Array(0)

type Ciphertext = Parameters<ICryptoInterface['chaCha20Poly1305Decrypt']>[0]
type Plaintext = ReturnType<ICryptoInterface['chaCha20Poly1305Decrypt']>

/** The pieces of a message for the native addon; undefined when there are too many. */
function piecesOf (bytes: Uint8Array | Iterable<Uint8Array>): Uint8Array[] | undefined {
  const pieces = bytes instanceof Uint8Array ? [bytes] : [...bytes]
  return pieces.length <= MAX_NATIVE_PIECES ? pieces : undefined
}

/**
 * ChaCha20-Poly1305 of one transport message through the native addon,
 * in place: no cipher object and no output array per message. Node's API
 * made both for every 64 KiB message, and those outputs were most of a
 * fetching daemon's peak heap and garbage collection (heaptrack and CPU
 * profiles, BENCHMARKS.md 2026-12-02).
 */
export function openInPlace (ciphertext: Ciphertext, nonce: Uint8Array, ad: Uint8Array, k: Uint8Array): Plaintext | undefined {
  const addon = nativeAddon
  const n = ciphertext.byteLength - TAG_BYTES
  if (addon == null || n < 0) return undefined
  const text = ciphertext instanceof Uint8Array ? ciphertext.subarray(0, n) : ciphertext.sublist(0, n)
  const pieces = piecesOf(text)
  if (pieces == null) return undefined
  // a copy when the tag spans two reads; the addon copies it before writing anyway
  if (!addon.open(k, nonce, ad, pieces, ciphertext.subarray(n))) throw new Error('Invalid chacha20poly1305 decryption')
  openedInPlace++
  return text
}

let openedInPlace = 0
let sealedInPlace = 0

/**
 * ChaCha20-Poly1305 of one message through the native addon, without a
 * cipher object: donated pieces (a served block's bytes, see
 * donated-bytes.ts) become their own ciphertext, the rest and the tag go
 * into one new array. With nothing donated, that array is the whole
 * message, as the library returns it.
 */
function sealNative (addon: NativeAddon, k: Uint8Array, nonce: Uint8Array, ad: Uint8Array, pieces: Uint8Array[]): Uint8Array | Uint8ArrayList {
  let copied = 0
  let inPlace = 0
  for (const p of pieces) {
    if (isDonated(p)) inPlace++
    else copied += p.byteLength
  }
  const out = Buffer.allocUnsafeSlow(copied + TAG_BYTES)
  const outs: Uint8Array[] = []
  let at = 0
  for (const p of pieces) {
    if (isDonated(p)) outs.push(p)
    else {
      outs.push(out.subarray(at, at + p.byteLength))
      at += p.byteLength
    }
  }
  const tag = out.subarray(copied)
  addon.seal(k, nonce, ad, pieces, outs, tag)
  if (inPlace === 0) return out
  sealedInPlace += inPlace
  const list = new Uint8ArrayList()
  // runs of copied pieces sit next to each other in `out`: appended as one view each
  let run: { from: number, to: number } | undefined
  for (let i = 0; i < pieces.length; i++) {
    if (outs[i] === pieces[i]) {
      if (run != null) list.append(out.subarray(run.from, run.to))
      run = undefined
      list.append(pieces[i])
    } else {
      const from = outs[i].byteOffset - out.byteOffset
      run = { from: run?.from ?? from, to: from + outs[i].byteLength }
    }
  }
  if (run != null) list.append(out.subarray(run.from, run.to))
  list.append(tag)
  return list
}

/** How many pieces this process encrypted in place (for tests: donated bytes really are). */
export function noiseSealedInPlace (): number {
  return sealedInPlace
}

/** How many messages this process decrypted in place (for tests: the native path is really taken). */
export function noiseOpenedInPlace (): number {
  return openedInPlace
}

/**
 * The library's default crypto, except that a large message's ciphertext
 * comes back as its pieces (OpenSSL's output and the tag) instead of one
 * new array: `nodeCrypto` concatenates them, copying every byte a daemon
 * sends once more. The Noise layer appends the result to a list anyway.
 */
export const lessCopyingNoiseCrypto: ICryptoInterface = {
  ...defaultCrypto,
  chaCha20Poly1305Encrypt (plaintext, nonce, ad, k) {
    const pieces = nativeAddon == null ? undefined : piecesOf(plaintext)
    if (nativeAddon != null && pieces != null) return sealNative(nativeAddon, k, nonce, ad, pieces) as ReturnType<ICryptoInterface['chaCha20Poly1305Encrypt']>
    if (plaintext.byteLength < SMALL_MESSAGE) return defaultCrypto.chaCha20Poly1305Encrypt(plaintext, nonce, ad, k)
    const cipher = createCipheriv('chacha20-poly1305', k, nonce, { authTagLength: TAG_BYTES })
    cipher.setAAD(ad, { plaintextLength: plaintext.byteLength })
    const out = new Uint8ArrayList()
    if (plaintext instanceof Uint8Array) out.append(cipher.update(plaintext))
    else for (const piece of plaintext) out.append(cipher.update(piece))
    const final = cipher.final()
    if (final.byteLength > 0) out.append(final)
    out.append(cipher.getAuthTag())
    // the library's list class is another copy of this package (2.x, where
    // we have 3.x): the two tell their lists apart by the same Symbol.for
    return out as unknown as ReturnType<ICryptoInterface['chaCha20Poly1305Encrypt']>
  },
  chaCha20Poly1305Decrypt (ciphertext, nonce, ad, k, dst) {
    if (dst === IN_PLACE) return openInPlace(ciphertext, nonce, ad, k) ?? defaultCrypto.chaCha20Poly1305Decrypt(ciphertext, nonce, ad, k)
    return defaultCrypto.chaCha20Poly1305Decrypt(ciphertext, nonce, ad, k, dst)
  }
}

/** The fields of the library's encrypted connection that its `decrypt` uses. */
interface EncryptedStream {
  handshake: { decrypt: (ciphertext: Uint8Array | Uint8ArrayList, dst?: Uint8Array) => Uint8Array | Uint8ArrayList }
  metrics?: { decryptedPackets: { increment: () => void }, decryptErrors: { increment: () => void } }
}

/**
 * The library's `decrypt` of a run of Noise messages, without the copy:
 * for every message it also computed `dst` (the ciphertext's own bytes, to
 * decrypt into in place) with `subarray()`, which concatenates a message
 * that spans socket reads (nearly every 64 KiB one) into a new array. Only
 * the WebAssembly cipher of small messages reads `dst`; large ones go to
 * OpenSSL, which ignores it. Same checks, same errors, same output.
 * On our own connections with the native addon, every message is
 * decrypted where it lies instead ({@link openInPlace}).
 */
function decryptWithoutCopy (this: EncryptedStream, chunk: Uint8Array | Uint8ArrayList): Uint8ArrayList {
  const output = new Uint8ArrayList()
  // only connections of ours use our crypto: the class is the library's, shared with any stock Noise in this process
  const inPlace = nativeAddon != null && ours.has(this)
  for (let i = 0; i < chunk.byteLength; i += NOISE_MAX_MESSAGE) {
    const end = Math.min(i + NOISE_MAX_MESSAGE, chunk.byteLength)
    if (end - TAG_BYTES < i) throw new Error('Invalid chunk')
    const encrypted = chunk instanceof Uint8Array ? chunk.subarray(i, end) : chunk.sublist(i, end)
    const dst = inPlace ? IN_PLACE : end - i < SMALL_MESSAGE ? chunk.subarray(i, end - TAG_BYTES) : undefined
    try {
      output.append(this.handshake.decrypt(encrypted, dst))
      this.metrics?.decryptedPackets.increment()
    } catch (err) {
      this.metrics?.decryptErrors.increment()
      throw err
    }
  }
  return output
}

const patched = new WeakSet<object>()
/** Encrypted connections made by {@link lessCopyingNoise}: their crypto is {@link lessCopyingNoiseCrypto}. */
const ours = new WeakSet<object>()
let installed = false

/** Whether {@link decryptWithoutCopy} replaced the library's method (for tests: a library update may change the class). */
export function noiseDecryptPatched (): boolean {
  return installed
}

/** Gives the library's encrypted-connection class {@link decryptWithoutCopy}, once; leaves a class it does not recognise alone. */
function patchDecrypt (connection: unknown): void {
  if (typeof connection === 'object' && connection != null) ours.add(connection)
  const proto = connection == null ? undefined : Object.getPrototypeOf(connection) as Record<string, unknown> | null
  if (proto == null || patched.has(proto)) return
  patched.add(proto)
  if (typeof proto.decrypt !== 'function' || proto.decrypt.length !== 1 || !('handshake' in (connection as object))) return
  proto.decrypt = decryptWithoutCopy
  installed = true
}

/**
 * Noise as `@chainsafe/libp2p-noise` speaks it (same handshake, same wire
 * format: peers with the stock library connect as before), with two copies
 * of every byte taken out of the transport: one when encrypting
 * ({@link lessCopyingNoiseCrypto}), one when decrypting
 * ({@link decryptWithoutCopy}).
 */
export function lessCopyingNoise (): (components: NoiseComponents) => ConnectionEncrypter<NoiseExtensions> {
  const make = noise({ crypto: lessCopyingNoiseCrypto })
  return (components) => {
    const encrypter = make(components)
    const inbound = encrypter.secureInbound.bind(encrypter)
    const outbound = encrypter.secureOutbound.bind(encrypter)
    encrypter.secureInbound = async (...args) => {
      const secured = await inbound(...args)
      patchDecrypt(secured.connection)
      return secured
    }
    encrypter.secureOutbound = async (...args) => {
      const secured = await outbound(...args)
      patchDecrypt(secured.connection)
      return secured
    }
    return encrypter
  }
}
