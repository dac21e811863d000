import { xsalsa20 } from '@noble/ciphers/salsa.js'

/** Bytes in one Salsa20 block: the keystream position advances in these. */
const BLOCK = 64
/**
 * @noble/ciphers exposes the low 32 bits of the block counter: 2^32 blocks
 * (256 GiB) is where the keystream would repeat. A connection stops well
 * before; the peers reconnect with fresh nonces.
 */
export const MAX_STREAM_BYTES = 2 ** 32 * BLOCK - 2 ** 20

/** Thrown when a connection has used up its keystream. */
export class KeystreamExhaustedError extends Error {
  override name = 'KeystreamExhaustedError'
}

/**
 * One direction of an XSalsa20 stream cipher (the IPFS/libp2p private
 * network cipher): XORs successive chunks of any size with one continuous
 * keystream. Written on @noble/ciphers because the `xsalsa20` WebAssembly
 * package that @libp2p/pnet uses shares one growing memory between all
 * connections and crashed busy daemons (`WebAssembly.Memory.grow(): Maximum
 * memory size exceeded`, 12 peers fetching from one seed).
 */
export class XSalsaStream {
  private position = 0

  constructor (private readonly key: Uint8Array, private readonly nonce: Uint8Array) {}

  /** `data` XORed with the next `data.length` bytes of keystream, as a new array. */
  update (data: Uint8Array): Uint8Array {
    if (this.position + data.length > MAX_STREAM_BYTES) throw new KeystreamExhaustedError('private network keystream used up on this connection: reconnecting')
    const offset = this.position % BLOCK
    const counter = (this.position - offset) / BLOCK
    this.position += data.length
    if (offset === 0) return xsalsa20(this.key, this.nonce, data, undefined, counter)
    // mid-block: encrypt from the block's start and drop the bytes already used
    const padded = new Uint8Array(offset + data.length)
    padded.set(data, offset)
    return xsalsa20(this.key, this.nonce, padded, undefined, counter).subarray(offset)
  }
}
