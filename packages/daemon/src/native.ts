import { createCipheriv } from 'node:crypto'
import { createRequire } from 'node:module'
import { fileURLToPath } from 'node:url'

/**
 * mlp's native addon (`native/mlp_native.c`, built by `npm ci` through
 * `native/build.js`): ChaCha20-Poly1305 through the OpenSSL Node links, in
 * place and into caller-owned buffers, and FastCDC's gear loop. Everything
 * it does has a JavaScript path too, so a machine that cannot build it
 * still works, only slower; `MLP_NATIVE=0` turns it off.
 */
export interface NativeAddon {
  /** Encrypts `pieces` in order, piece i into `outs[i]` (as long as it; may be the piece itself), and writes the tag into `tag`. */
  seal: (key: Uint8Array, nonce: Uint8Array, ad: Uint8Array, pieces: Uint8Array[], outs: Uint8Array[], tag: Uint8Array) => void
  /** Decrypts `pieces` in place; false when `tag` does not match (the pieces then hold garbage). */
  open: (key: Uint8Array, nonce: Uint8Array, ad: Uint8Array, pieces: Uint8Array[], tag: Uint8Array) => boolean
  /** The index just past the first gear-hash cut in `buf[from, hardEnd)` (see store/chunker.ts), else `hardEnd`. */
  gearCut: (buf: Uint8Array, from: number, normalEnd: number, hardEnd: number, maskS: number, maskL: number) => number
  /** glibc's `mallopt` for M_MMAP_THRESHOLD and M_TRIM_THRESHOLD; false where the C library is not glibc or refused a value. */
  tuneMalloc: (mmapThreshold: number, trimThreshold: number) => boolean
}

/** Where `native/build.js` puts the addon, from `src/` (tests) and `dist/` alike. */
export const NATIVE_ADDON_PATH = fileURLToPath(new URL('../native/build/Release/mlp_native.node', import.meta.url))

function load (): { addon?: NativeAddon, error?: string } {
  if (process.env.MLP_NATIVE === '0') return { error: 'turned off by MLP_NATIVE=0' }
  let addon: NativeAddon
  try {
    addon = createRequire(import.meta.url)(NATIVE_ADDON_PATH) as NativeAddon
  } catch (err) {
    return { error: (err as Error).message.split('\n')[0] }
  }
  // an OpenSSL without the cipher (a FIPS build, say) would fail every
  // message: the addon is used only if it seals as Node's own crypto does
  try {
    const key = Buffer.alloc(32, 7)
    const nonce = Buffer.alloc(12, 9)
    const plain = Buffer.from('mlp native self-test')
    const c = createCipheriv('chacha20-poly1305', key, nonce, { authTagLength: 16 })
    const expected = Buffer.concat([c.update(plain), c.final(), c.getAuthTag()])
    const out = Buffer.alloc(plain.length + 16)
    addon.seal(key, nonce, new Uint8Array(0), [plain], [out.subarray(0, plain.length)], out.subarray(plain.length))
    if (!out.equals(expected)) return { error: 'its ChaCha20-Poly1305 disagrees with Node\'s' }
  } catch (err) {
    return { error: `its self-test failed: ${(err as Error).message}` }
  }
  return { addon }
}

const loaded = load()

/** The addon, or undefined where it is not built or turned off ({@link nativeAddonError} says why). */
export const nativeAddon: NativeAddon | undefined = loaded.addon

/** Why {@link nativeAddon} is undefined; undefined when it loaded. */
export const nativeAddonError: string | undefined = loaded.error
