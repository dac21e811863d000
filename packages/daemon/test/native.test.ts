import { execFileSync } from 'node:child_process'
import { createCipheriv, randomBytes } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { gearCut } from '../src/store/chunker.js'
import { nativeAddon, nativeAddonError, NATIVE_ADDON_PATH, type NativeAddon } from '../src/native.js'
import { MMAP_THRESHOLD_BYTES, TRIM_THRESHOLD_BYTES } from '../src/allocator.js'

/** ChaCha20-Poly1305 of `plain` by Node's own API: ciphertext then tag. */
function nodeSeal (k: Buffer, nonce: Buffer, ad: Buffer, plain: Buffer): Buffer {
  const c = createCipheriv('chacha20-poly1305', k, nonce, { authTagLength: 16 })
  c.setAAD(ad, { plaintextLength: plain.length })
  return Buffer.concat([c.update(plain), c.final(), c.getAuthTag()])
}

/** `bytes` cut at `at` (sorted offsets): the pieces a message arrives in. */
function split (bytes: Buffer, at: number[]): Buffer[] {
  const out: Buffer[] = []
  let from = 0
  for (const a of [...at, bytes.length]) {
    out.push(bytes.subarray(from, a))
    from = a
  }
  return out
}

describe('the native addon', () => {
  // npm ci builds it (native/build.js); CI must not pass with the JavaScript fallback by accident
  it('is built and loads', () => {
    expect(nativeAddonError).toBeUndefined()
    expect(nativeAddon).toBeDefined()
  })

  const addon = nativeAddon as NativeAddon
  const k = randomBytes(32)
  const nonce = randomBytes(12)
  const ad = randomBytes(32)

  it.each([
    [0, []], [1, []], [1199, [600]], [65_519, [12, 30_000]], [65_519, [1, 2, 3, 65_000]]
  ])('seals %i bytes in pieces %j exactly as Node does, and opens them in place', (n, cuts) => {
    const plain = randomBytes(n)
    const expected = nodeSeal(k, nonce, ad, plain)
    const out = Buffer.alloc(n + 16)
    addon.seal(k, nonce, ad, split(plain, cuts), split(out.subarray(0, n), cuts), out.subarray(n))
    expect(out.equals(expected)).toBe(true)
    // in place: each piece becomes its own ciphertext
    const inPlace = Buffer.from(plain)
    const tag = Buffer.alloc(16)
    addon.seal(k, nonce, ad, split(inPlace, cuts), split(inPlace, cuts), tag)
    expect(Buffer.concat([inPlace, tag]).equals(expected)).toBe(true)
    // the pieces are decrypted where they lie
    const received = Buffer.from(expected)
    expect(addon.open(k, nonce, ad, split(received.subarray(0, n), cuts), received.subarray(n))).toBe(true)
    expect(received.subarray(0, n).equals(plain)).toBe(true)
  })

  it('refuses a flipped byte, a wrong tag, nonce, key or associated data', () => {
    const plain = randomBytes(5000)
    const sealed = nodeSeal(k, nonce, ad, plain)
    const open = (bytes: Buffer, key = k, iv = nonce, aad = ad): boolean => {
      const copy = Buffer.from(bytes)
      return addon.open(key, iv, aad, [copy.subarray(0, 5000)], copy.subarray(5000))
    }
    // positive control: the untouched message opens
    expect(open(sealed)).toBe(true)
    for (const at of [0, 2500, 4999, 5000, 5015]) {
      const bad = Buffer.from(sealed)
      bad[at] ^= 1
      expect(open(bad)).toBe(false)
    }
    expect(open(sealed, randomBytes(32))).toBe(false)
    expect(open(sealed, k, randomBytes(12))).toBe(false)
    expect(open(sealed, k, nonce, randomBytes(32))).toBe(false)
    // a failure leaves nothing queued in OpenSSL that Node's own crypto would then trip on
    expect(nodeSeal(k, nonce, ad, plain).equals(sealed)).toBe(true)
  })

  it('throws on arguments that would read or write out of bounds', () => {
    const plain = randomBytes(100)
    const tag = Buffer.alloc(16)
    expect(() => { addon.seal(k, nonce, ad, [plain], [Buffer.alloc(99)], tag) }).toThrow(RangeError)
    expect(() => { addon.seal(k, nonce, ad, [plain], [Buffer.alloc(101)], tag) }).toThrow(RangeError)
    expect(() => { addon.seal(k, nonce, ad, [plain], [Buffer.alloc(50), Buffer.alloc(50)], tag) }).toThrow(RangeError)
    expect(() => { addon.seal(k, nonce, ad, [plain], [Buffer.alloc(100)], Buffer.alloc(15)) }).toThrow(RangeError)
    expect(() => { addon.seal(k.subarray(0, 31), nonce, ad, [plain], [Buffer.alloc(100)], tag) }).toThrow(TypeError)
    expect(() => { addon.open(k, nonce.subarray(0, 8), ad, [plain], Buffer.alloc(16)) }).toThrow(TypeError)
    expect(() => { addon.open(k, nonce, ad, [plain], Buffer.alloc(15)) }).toThrow(RangeError)
    expect(() => { addon.open(k, nonce, ad, Array.from({ length: 65 }, () => plain.subarray(0, 1)), Buffer.alloc(16)) }).toThrow(TypeError)
    expect(() => { addon.open(k, nonce, ad, ['text' as unknown as Uint8Array], Buffer.alloc(16)) }).toThrow(TypeError)
    expect(() => { addon.gearCut(plain, 0, 50, 101, 0, 0) }).toThrow(RangeError)
    expect(() => { addon.gearCut(plain, 60, 50, 100, 0, 0) }).toThrow(RangeError)
    // -1 arrives as 2^32 - 1, past the end
    expect(() => { addon.gearCut(plain, -1, 50, 100, 0, 0) }).toThrow(RangeError)
    // overlapping ranges would have OpenSSL read what it just wrote: refused
    const big = randomBytes(300)
    expect(() => { addon.seal(k, nonce, ad, [big.subarray(0, 100)], [big.subarray(50, 150)], tag) }).toThrow(RangeError)
    expect(() => { addon.seal(k, nonce, ad, [big.subarray(0, 100), big.subarray(100, 200)], [big.subarray(100, 200), big.subarray(200, 300)], tag) }).toThrow(RangeError)
    expect(() => { addon.seal(k, nonce, ad, [plain], [big.subarray(0, 100)], big.subarray(90, 106)) }).toThrow(RangeError)
    expect(() => { addon.open(k, nonce, ad, [big.subarray(0, 100), big.subarray(0, 100)], tag) }).toThrow(RangeError)
    expect(() => { addon.open(k, nonce, ad, [big.subarray(0, 100), big.subarray(99, 120)], tag) }).toThrow(RangeError)
    // positive control: the same calls in bounds work
    const out = Buffer.alloc(116)
    addon.seal(k, nonce, ad, [plain], [out.subarray(0, 100)], out.subarray(100))
    expect(addon.open(k, nonce, ad, [out.subarray(0, 100)], out.subarray(100))).toBe(true)
    expect(addon.gearCut(plain, 0, 50, 100, 0, 0)).toBe(1)
  })

  it('cuts exactly where the JavaScript gear loop cuts', () => {
    const masks: Array<[number, number]> = [[0xfffc0000, 0xffc00000], [0xffff0000, 0xfff00000], [0xf0000000, 0x80000000]]
    let cuts = 0
    for (let round = 0; round < 40; round++) {
      const buf = randomBytes(300_000)
      // runs of one byte value: where a gear hash most often finds no cut before the hard end
      if (round % 4 === 0) buf.fill(round & 0xff, 1000, 200_000)
      const from = (round * 7919) % 5000
      const normalEnd = from + 40_000 + round * 997
      const hardEnd = Math.min(buf.length, normalEnd + 150_000)
      const [maskS, maskL] = masks[round % masks.length]
      const expected = gearCut(buf, from, normalEnd, hardEnd, maskS, maskL)
      expect(addon.gearCut(buf, from, normalEnd, hardEnd, maskS, maskL)).toBe(expected)
      if (expected < hardEnd) cuts++
    }
    // positive control: most rounds found a content-defined cut, not only the hard end
    expect(cuts).toBeGreaterThan(20)
  })
})

/**
 * Minor page faults of a fresh process that allocates, fills and drops
 * 48 MiB of 4 MiB arrays eight times (after two warm-up rounds), under
 * the daemon's malloc settings or under the thresholds glibc starts with
 * (128 KiB each; set explicitly, as glibc's own later moves of them depend
 * on the order of earlier frees).
 */
function faultsOfChurn (tuned: boolean): number {
  const [mmap, trim] = tuned ? [MMAP_THRESHOLD_BYTES, TRIM_THRESHOLD_BYTES] : [128 * 1024, 128 * 1024]
  const script = `
    const addon = require(${JSON.stringify(NATIVE_ADDON_PATH)})
    if (!addon.tuneMalloc(${mmap}, ${trim})) throw new Error('tuneMalloc refused')
    const round = () => { let a = []; for (let i = 0; i < 12; i++) { const b = Buffer.allocUnsafeSlow(4 << 20); b.fill(i); a.push(b) } a = null; global.gc() }
    round(); round()
    const before = process.resourceUsage().minorPageFault
    for (let r = 0; r < 8; r++) round()
    process.stdout.write(String(process.resourceUsage().minorPageFault - before))`
  return Number(execFileSync(process.execPath, ['--expose-gc', '-e', script]).toString())
}

describe('tuneMalloc', () => {
  const glibc = (process.report.getReport() as { header: { glibcVersionRuntime?: string } }).header.glibcVersionRuntime != null

  it('keeps freed arrays mapped for reuse where the C library is glibc', () => {
    // CI runs on glibc: this must not pass by skipping
    expect(glibc).toBe(true)
    const untuned = faultsOfChurn(false)
    const tuned = faultsOfChurn(true)
    // positive control: with glibc's starting thresholds every round maps its arrays anew (12 x 1024 pages)
    expect(untuned).toBeGreaterThan(8 * 1024)
    expect(tuned * 4).toBeLessThan(untuned)
  })

  it('refuses values mallopt cannot take, and non-numbers', () => {
    const addon = nativeAddon as NativeAddon
    expect(addon.tuneMalloc(2 ** 31, 0)).toBe(false)
    expect(() => addon.tuneMalloc('1' as unknown as number, 1)).toThrow()
  })
})
