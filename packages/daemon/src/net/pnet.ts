import { InvalidParametersError, type AbortOptions, type ConnectionProtector, type MultiaddrConnection } from '@libp2p/interface'
import { AbstractMultiaddrConnection, byteStream, type AbstractMultiaddrConnectionInit } from '@libp2p/utils'
import type { Uint8ArrayList } from 'uint8arraylist'
import { StreamCipher } from './stream-cipher.js'
import { deadline } from '../deadline.js'

/** Bytes of the random nonce each side sends first. */
const NONCE_BYTES = 24
/** Bytes of the pre-shared key. */
const KEY_BYTES = 32
/** How long the nonce exchange may take. */
const HANDSHAKE_TIMEOUT_MS = 5_000

/**
 * Decodes a swarm key file's text (`/key/swarm/psk/1.0.0/`, `/base16/`, 64
 * hex digits), already validated by `loadSwarmKey`, to the 32 key bytes.
 */
export function pskBytes (file: Uint8Array): Uint8Array {
  const hex = new TextDecoder().decode(file).split(/\r?\n/)[2]?.trim() ?? ''
  if (!/^[0-9a-fA-F]{64}$/.test(hex)) throw new InvalidParametersError('swarm key: expected 64 hex digits on its third line')
  return Uint8Array.from(Buffer.from(hex, 'hex'))
}

/** A connection whose bytes are XORed with ChaCha20 keystreams, one per direction. */
class PrivateConnection extends AbstractMultiaddrConnection {
  private readonly inbound: StreamCipher
  private readonly outbound: StreamCipher

  constructor (private readonly inner: MultiaddrConnection, init: Omit<AbstractMultiaddrConnectionInit, 'remoteAddr' | 'direction'>, keys: { psk: Uint8Array, local: Uint8Array, remote: Uint8Array }) {
    super({ ...init, remoteAddr: inner.remoteAddr, direction: inner.direction })
    this.inbound = new StreamCipher(keys.psk, keys.remote)
    this.outbound = new StreamCipher(keys.psk, keys.local)
    inner.addEventListener('message', (evt) => {
      try {
        const data: Uint8Array | Uint8ArrayList = evt.data
        if (data instanceof Uint8Array) this.onData(this.inbound.update(data))
        else for (const buf of data) this.onData(this.inbound.update(buf))
      } catch (err) {
        this.abort(err as Error)
      }
    })
    inner.addEventListener('drain', () => { this.onMuxerDrain() })
    inner.addEventListener('close', (evt) => {
      if (evt.error == null) this.onTransportClosed()
      else if (evt.local) this.abort(evt.error)
      else this.onRemoteReset()
    })
  }

  async sendClose (options?: AbortOptions): Promise<void> {
    await this.inner.close(options)
  }

  sendData (data: Uint8ArrayList): { sentBytes: number, canSendMore: boolean } {
    return { sentBytes: data.byteLength, canSendMore: this.inner.send(this.outbound.update(data.subarray())) }
  }

  sendReset (err: Error): void {
    this.inner.abort(err)
  }

  sendPause (): void {
    this.inner.pause()
  }

  sendResume (): void {
    this.inner.resume()
  }
}

/**
 * Private network protection shaped like libp2p's pnet (each side sends a
 * 24-byte random nonce, then every byte is encrypted with a key only swarm
 * key holders can derive), on {@link StreamCipher}. Peers without the key
 * cannot complete the encrypted handshake that follows, so they cannot
 * connect at all. It keeps IPFS's swarm key file format but not its XSalsa20
 * wire cipher: mlp daemons only talk to mlp daemons, and the native cipher is
 * an order of magnitude faster (see stream-cipher.ts).
 */
class PreSharedKeyProtector implements ConnectionProtector {
  readonly [Symbol.toStringTag] = 'mlp/pnet'

  constructor (private readonly psk: Uint8Array) {}

  async protect (connection: MultiaddrConnection, options?: AbortOptions): Promise<MultiaddrConnection> {
    const localNonce = crypto.getRandomValues(new Uint8Array(NONCE_BYTES))
    const signal = options?.signal ?? deadline(HANDSHAKE_TIMEOUT_MS)
    const bytes = byteStream(connection)
    const [remote] = await Promise.all([bytes.read({ bytes: NONCE_BYTES, signal }), bytes.write(localNonce, { signal })])
    return new PrivateConnection(bytes.unwrap(), { log: connection.log.newScope('pnet') }, { psk: this.psk, local: localNonce, remote: remote.subarray() })
  }
}

/** The connection protector for a swarm key file's bytes. */
export function privateNetwork (swarmKeyFile: Uint8Array): () => ConnectionProtector {
  const psk = pskBytes(swarmKeyFile)
  if (psk.length !== KEY_BYTES) throw new InvalidParametersError('swarm key: expected 32 bytes')
  return () => new PreSharedKeyProtector(psk)
}
