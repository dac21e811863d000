import { randomBytes, randomInt } from 'node:crypto'
import { defaultCrypto } from '@chainsafe/libp2p-noise/crypto'
import { Uint8ArrayList } from 'uint8arraylist'
import { describe, expect, it } from 'vitest'
import { donate, markFresh } from '../src/net/donated-bytes.js'
import { lessCopyingNoiseCrypto, openInPlace } from '../src/net/noise-copies.js'
import { nativeAddon } from '../src/native.js'

const bytesOf = (x: Uint8Array | { subarray: () => Uint8Array }): Buffer => Buffer.from(x instanceof Uint8Array ? x : x.subarray())

/** Random cut points of n bytes into `count` pieces (some empty). */
function cuts (n: number, count: number): number[] {
  const at = Array.from({ length: count - 1 }, () => randomInt(0, n + 1))
  return at.sort((a, b) => a - b)
}

describe('Noise ciphertext and plaintext against the library, random shapes', () => {
  it('addon is loaded (else this file proves nothing)', () => { expect(nativeAddon).toBeDefined() })

  it('seals byte-identical for random piece shapes, random donated subsets, 0..80 pieces', () => {
    for (let round = 0; round < 300; round++) {
      const k = randomBytes(32)
      const nonce = randomBytes(12)
      const ad = round % 3 === 0 ? new Uint8Array(0) : randomBytes(32)
      const n = [0, 1, 15, 16, 17, 1199, 1200, 4096, 65_519][round % 9]
      const count = 1 + randomInt(0, 80)
      const plain = randomBytes(n)
      const at = cuts(n, count)
      const pieces: Uint8Array[] = []
      const donatedIdx: number[] = []
      let from = 0
      for (const a of [...at, n]) {
        const p = Buffer.allocUnsafeSlow(a - from)
        plain.copy(p, 0, from, a)
        if (randomInt(0, 2) === 0) { markFresh(p); donate(p); donatedIdx.push(pieces.length) }
        pieces.push(p)
        from = a
      }
      const expected = bytesOf(defaultCrypto.chaCha20Poly1305Encrypt(plain, nonce, ad, k))
      const sealed = lessCopyingNoiseCrypto.chaCha20Poly1305Encrypt(new Uint8ArrayList(...pieces) as unknown as Uint8Array, nonce, ad, k)
      expect(sealed.byteLength).toBe(n + 16)
      expect(bytesOf(sealed).equals(expected), `round ${round} n ${n} pieces ${count}`).toBe(true)
    }
  })

  it('opens in place for random splits (tag split too), 1..90 pieces, and refuses every single flipped bit position sampled', () => {
    for (let round = 0; round < 300; round++) {
      const k = randomBytes(32)
      const nonce = randomBytes(12)
      const ad = randomBytes(32)
      const n = [0, 1, 15, 16, 17, 1199, 1200, 4096, 65_519][round % 9]
      const plain = randomBytes(n)
      const sealed = bytesOf(defaultCrypto.chaCha20Poly1305Encrypt(plain, nonce, ad, k))
      const count = 1 + randomInt(0, 90)
      const at = cuts(sealed.length, count)
      const mk = (src: Buffer): Uint8ArrayList => {
        const parts: Buffer[] = []
        let from = 0
        for (const a of [...at, src.length]) { parts.push(Buffer.from(src.subarray(from, a))); from = a }
        return new Uint8ArrayList(...parts)
      }
      const got = openInPlace(mk(sealed) as unknown as Uint8Array, nonce, ad, k)
      if (got != null) expect(bytesOf(got).equals(plain)).toBe(true)
      const bad = Buffer.from(sealed)
      bad[randomInt(0, bad.length)] ^= 1 << randomInt(0, 8)
      let r: unknown
      try { r = openInPlace(mk(bad) as unknown as Uint8Array, nonce, ad, k) } catch { r = 'threw' }
      // undefined: more than 64 pieces, left to the library (the caller falls back)
      if (got != null) expect(r, `round ${round} n ${n} count ${count}`).toBe('threw')
      else expect(r === undefined || r === 'threw').toBe(true)
    }
  })
})
