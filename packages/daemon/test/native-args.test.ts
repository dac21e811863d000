import { spawnSync } from 'node:child_process'
import { describe, expect, it } from 'vitest'
import { NATIVE_ADDON_PATH, nativeAddon } from '../src/native.js'

/**
 * The addon validates each typed array when it reads the array element
 * (napi_get_element), but napi_get_element runs JavaScript (an index getter),
 * which can shrink or detach an array validated a moment earlier. The C then
 * reads and writes through the stale pointer and length. Run in a child: on
 * the code under review it dies with SIGSEGV.
 */
function child (body: string): { status: number | null, signal: NodeJS.Signals | null, out: string } {
  const script = `
    const addon = require(${JSON.stringify(NATIVE_ADDON_PATH)})
    const crypto = require('node:crypto')
    const k = crypto.randomBytes(32), nonce = crypto.randomBytes(12), ad = Buffer.alloc(0)
    const N = 64 << 20
    const ab = new ArrayBuffer(N, { maxByteLength: N })
    const piece = new Uint8Array(ab) // tracks the buffer's length
    ${body}
    console.log('survived')
  `
  const r = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8' })
  return { status: r.status, signal: r.signal, out: r.stdout + r.stderr }
}

describe('the addon against arrays changed while it reads its arguments', () => {
  it('addon is loaded (else this file proves nothing)', () => { expect(nativeAddon).toBeDefined() })

  it('open(): a later element\'s getter shrinking an earlier piece throws or is harmless, never a crash', () => {
    const r = child(`
      const pieces = [piece]
      Object.defineProperty(pieces, 1, { get () { ab.resize(0); return new Uint8Array(0) }, enumerable: true })
      try { addon.open(k, nonce, ad, pieces, Buffer.alloc(16)) } catch (e) { console.log('threw', e.message) }
    `)
    expect(r.signal, r.out).toBeNull()
    expect(r.out).toContain('survived')
  })

  it('seal(): a getter in outs shrinking a piece throws or is harmless, never a crash', () => {
    const r = child(`
      const out = new Uint8Array(N)
      const outs = []
      Object.defineProperty(outs, 0, { get () { ab.resize(0); return out }, enumerable: true })
      try { addon.seal(k, nonce, ad, [piece], outs, Buffer.alloc(16)) } catch (e) { console.log('threw', e.message) }
    `)
    expect(r.signal, r.out).toBeNull()
    expect(r.out).toContain('survived')
  })

  it('positive control: the same calls without the getter survive', () => {
    const r = child(`
      addon.open(k, nonce, ad, [piece], Buffer.alloc(16))
      addon.seal(k, nonce, ad, [piece], [new Uint8Array(N)], Buffer.alloc(16))
    `)
    expect(r.signal, r.out).toBeNull()
    expect(r.out).toContain('survived')
  })
})
