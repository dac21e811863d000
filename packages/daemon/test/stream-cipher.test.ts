import { createCipheriv, hkdfSync, randomBytes } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { pskBytes } from '../src/net/pnet.js'
import { KeystreamExhaustedError, MAX_STREAM_BYTES, StreamCipher } from '../src/net/stream-cipher.js'

describe('StreamCipher (the private network cipher)', () => {
  const psk = randomBytes(32)
  const nonce = randomBytes(24)

  it('XORs chunks of any size with one continuous keystream: the same as encrypting all at once', () => {
    const data = randomBytes(300_000)
    const whole = new StreamCipher(psk, nonce).update(data)
    // cut at odd places, mid-block and across many blocks, with empty chunks too
    const cuts = [0, 1, 63, 64, 65, 0, 127, 4096, 1, 70_000, 33, 12_345]
    const stream = new StreamCipher(psk, nonce)
    const out: Uint8Array[] = []
    let at = 0
    for (let i = 0; at < data.length; i++) {
      const n = Math.min(cuts[i % cuts.length], data.length - at)
      out.push(stream.update(data.subarray(at, at + n)))
      at += n
    }
    expect(Buffer.concat(out).equals(Buffer.from(whole))).toBe(true)
  })

  it('is ChaCha20 under a key derived from the swarm key and the nonce (independent reference)', () => {
    const data = randomBytes(1000)
    const key = Buffer.from(hkdfSync('sha256', psk, nonce, 'mlp private network v2: chacha20 per direction', 32))
    const reference = createCipheriv('chacha20', key, Buffer.alloc(16)).update(data)
    expect(Buffer.from(new StreamCipher(psk, nonce).update(data)).equals(reference)).toBe(true)
    // the ciphertext is not the plaintext
    expect(Buffer.from(reference).equals(data)).toBe(false)
  })

  it('decrypts what it encrypted, and a wrong key or nonce does not', () => {
    const data = randomBytes(10_000)
    const sealed = new StreamCipher(psk, nonce).update(data)
    expect(Buffer.from(new StreamCipher(psk, nonce).update(sealed)).equals(data)).toBe(true)
    expect(Buffer.from(new StreamCipher(randomBytes(32), nonce).update(sealed)).equals(data)).toBe(false)
    expect(Buffer.from(new StreamCipher(psk, randomBytes(24)).update(sealed)).equals(data)).toBe(false)
  })

  it('gives each direction its own keystream (no two-time pad between the nonces)', () => {
    const zeros = new Uint8Array(256)
    const a = new StreamCipher(psk, randomBytes(24)).update(zeros)
    const b = new StreamCipher(psk, randomBytes(24)).update(zeros)
    expect(Buffer.from(a).equals(Buffer.from(b))).toBe(false)
  })

  it('refuses to reuse keystream past 2^32 blocks', () => {
    const stream = new StreamCipher(psk, nonce)
    ;(stream as unknown as { position: number }).position = MAX_STREAM_BYTES - 10
    expect(() => stream.update(new Uint8Array(11))).toThrow(KeystreamExhaustedError)
  })

  it('reads the key from a swarm key file and refuses a malformed one', () => {
    const hex = randomBytes(32).toString('hex')
    expect(Buffer.from(pskBytes(new TextEncoder().encode(`/key/swarm/psk/1.0.0/\n/base16/\n${hex}\n`))).toString('hex')).toBe(hex)
    expect(() => pskBytes(new TextEncoder().encode('/key/swarm/psk/1.0.0/\n/base16/\nxyz\n'))).toThrow(/64 hex digits/)
  })
})
