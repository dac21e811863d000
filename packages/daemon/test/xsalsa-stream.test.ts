import { randomBytes } from 'node:crypto'
import { xsalsa20 } from '@noble/ciphers/salsa.js'
import xsalsa20Wasm from 'xsalsa20'
import { describe, expect, it } from 'vitest'
import { pskBytes } from '../src/net/pnet.js'
import { KeystreamExhaustedError, MAX_STREAM_BYTES, XSalsaStream } from '../src/net/xsalsa-stream.js'

describe('XSalsaStream (the private network cipher)', () => {
  const key = randomBytes(32)
  const nonce = randomBytes(24)

  it('XORs chunks of any size with one continuous keystream: the same as encrypting all at once', () => {
    const data = randomBytes(300_000)
    const whole = xsalsa20(key, nonce, data)
    // cut at odd places, mid-block and across many blocks, with empty chunks too
    const cuts = [0, 1, 63, 64, 65, 0, 127, 4096, 1, 70_000, 33, 12_345]
    const stream = new XSalsaStream(key, nonce)
    const out: Uint8Array[] = []
    let at = 0
    for (let i = 0; at < data.length; i++) {
      const n = Math.min(cuts[i % cuts.length], data.length - at)
      out.push(stream.update(data.subarray(at, at + n)))
      at += n
    }
    expect(Buffer.concat(out).equals(Buffer.from(whole))).toBe(true)
  })

  it('decrypts what it encrypted, and a wrong key or nonce does not', () => {
    const data = randomBytes(10_000)
    const sealed = new XSalsaStream(key, nonce).update(data)
    expect(Buffer.from(new XSalsaStream(key, nonce).update(sealed)).equals(data)).toBe(true)
    expect(Buffer.from(new XSalsaStream(randomBytes(32), nonce).update(sealed)).equals(data)).toBe(false)
    expect(Buffer.from(new XSalsaStream(key, randomBytes(24)).update(sealed)).equals(data)).toBe(false)
  })

  it('interoperates with the `xsalsa20` package @libp2p/pnet peers (Kubo-compatible) use, chunk by chunk', () => {
    // small chunks: that package's WebAssembly memory is what broke under load, not its output
    const theirs = xsalsa20Wasm(nonce, key)
    const ours = new XSalsaStream(key, nonce)
    for (const n of [1, 63, 2, 64, 200, 4095, 7]) {
      const data = randomBytes(n)
      expect(Buffer.from(ours.update(data)).toString('hex')).toBe(Buffer.from(theirs.update(data)).toString('hex'))
    }
  })

  it('refuses to reuse keystream past 2^32 blocks', () => {
    const stream = new XSalsaStream(key, nonce)
    ;(stream as unknown as { position: number }).position = MAX_STREAM_BYTES - 10
    expect(() => stream.update(new Uint8Array(11))).toThrow(KeystreamExhaustedError)
  })

  it('reads the key from a swarm key file and refuses a malformed one', () => {
    const hex = randomBytes(32).toString('hex')
    expect(Buffer.from(pskBytes(new TextEncoder().encode(`/key/swarm/psk/1.0.0/\n/base16/\n${hex}\n`))).toString('hex')).toBe(hex)
    expect(() => pskBytes(new TextEncoder().encode('/key/swarm/psk/1.0.0/\n/base16/\nxyz\n'))).toThrow(/64 hex digits/)
  })
})
