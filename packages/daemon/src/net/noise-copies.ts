import { createCipheriv } from 'node:crypto'
import { noise, type ICryptoInterface, type NoiseComponents, type NoiseExtensions } from '@chainsafe/libp2p-noise'
import { defaultCrypto } from '@chainsafe/libp2p-noise/crypto'
import type { ConnectionEncrypter } from '@libp2p/interface'
import { Uint8ArrayList } from 'uint8arraylist'

/** Largest Noise transport message, tag included (the Noise spec's limit). */
const NOISE_MAX_MESSAGE = 65535
/** Bytes of the ChaCha20-Poly1305 tag at the end of every message. */
const TAG_BYTES = 16
/** Below this many bytes the library's crypto uses its WebAssembly ChaCha20 (and the in-place `dst`), from here OpenSSL's. */
const SMALL_MESSAGE = 1200

/**
 * The library's default crypto, except that a large message's ciphertext
 * comes back as its pieces (OpenSSL's output and the tag) instead of one
 * new array: `nodeCrypto` concatenates them, copying every byte a daemon
 * sends once more. The Noise layer appends the result to a list anyway.
 */
export const lessCopyingNoiseCrypto: ICryptoInterface = {
  ...defaultCrypto,
  chaCha20Poly1305Encrypt (plaintext, nonce, ad, k) {
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
 */
function decryptWithoutCopy (this: EncryptedStream, chunk: Uint8Array | Uint8ArrayList): Uint8ArrayList {
  const output = new Uint8ArrayList()
  for (let i = 0; i < chunk.byteLength; i += NOISE_MAX_MESSAGE) {
    const end = Math.min(i + NOISE_MAX_MESSAGE, chunk.byteLength)
    if (end - TAG_BYTES < i) throw new Error('Invalid chunk')
    const encrypted = chunk instanceof Uint8Array ? chunk.subarray(i, end) : chunk.sublist(i, end)
    const dst = end - i < SMALL_MESSAGE ? chunk.subarray(i, end - TAG_BYTES) : undefined
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
let installed = false

/** Whether {@link decryptWithoutCopy} replaced the library's method (for tests: a library update may change the class). */
export function noiseDecryptPatched (): boolean {
  return installed
}

/** Gives the library's encrypted-connection class {@link decryptWithoutCopy}, once; leaves a class it does not recognise alone. */
function patchDecrypt (connection: unknown): void {
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
