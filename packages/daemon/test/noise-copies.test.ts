import { randomBytes } from 'node:crypto'
import { noise } from '@chainsafe/libp2p-noise'
import { defaultCrypto } from '@chainsafe/libp2p-noise/crypto'
import { yamux } from '@chainsafe/libp2p-yamux'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { tcp } from '@libp2p/tcp'
import { createLibp2p, type Libp2p } from 'libp2p'
import { Uint8ArrayList } from 'uint8arraylist'
import { afterEach, describe, expect, it } from 'vitest'
import { donate, markFresh } from '../src/net/donated-bytes.js'
import { lessCopyingNoiseCrypto, noiseDecryptPatched, noiseOpenedInPlace, noiseSealedInPlace, openInPlace } from '../src/net/noise-copies.js'
import { createNode, MAX_STREAM_WINDOW_BYTES } from '../src/net/node.js'

const bytesOf = (x: Uint8Array | { subarray: () => Uint8Array }): Buffer => Buffer.from(x instanceof Uint8Array ? x : x.subarray())

describe('Noise crypto without the concatenation', () => {
  const k = randomBytes(32)
  const nonce = randomBytes(12)
  const ad = randomBytes(32)

  it.each([0, 10, 1199, 1200, 5000, 65_519])('encrypts %i bytes exactly as the library does, from an array and from a list', (n) => {
    const plain = randomBytes(n)
    const expected = bytesOf(defaultCrypto.chaCha20Poly1305Encrypt(plain, nonce, ad, k))
    expect(bytesOf(lessCopyingNoiseCrypto.chaCha20Poly1305Encrypt(plain, nonce, ad, k)).equals(expected)).toBe(true)
    const list = new Uint8ArrayList(plain.subarray(0, n >> 1), plain.subarray(n >> 1))
    // our uint8arraylist is 3.x, the library's 2.x: both mark lists with the same Symbol.for
    const fromList = bytesOf(lessCopyingNoiseCrypto.chaCha20Poly1305Encrypt(list as unknown as Uint8Array, nonce, ad, k))
    expect(fromList.equals(expected)).toBe(true)
    // the library's own decrypt opens it; a flipped byte is refused
    expect(bytesOf(defaultCrypto.chaCha20Poly1305Decrypt(fromList, nonce, ad, k)).equals(plain)).toBe(true)
    fromList[fromList.length - 1] ^= 1
    expect(() => defaultCrypto.chaCha20Poly1305Decrypt(fromList, nonce, ad, k)).toThrow()
  })
})

describe('Noise encryption of donated bytes in place', () => {
  it('encrypts a donated piece where it lies and every other piece into a new array, bytes as the library makes them', () => {
    const k = randomBytes(32)
    const nonce = randomBytes(12)
    const ad = randomBytes(32)
    const header = Buffer.from(randomBytes(12))
    // a served block: read into an array of its own, given away after its last use
    const block = Buffer.allocUnsafeSlow(40_000)
    randomBytes(40_000).copy(block)
    markFresh(block)
    // a block never given away, and a slice of Node's shared pool "given away" without being fresh
    const kept = Buffer.allocUnsafeSlow(20_000)
    randomBytes(20_000).copy(kept)
    markFresh(kept)
    const pooled = Buffer.allocUnsafe(100)
    randomBytes(100).copy(pooled)
    const view = block.subarray(1000, 31_000)
    donate(view)
    // marking a slice of the shared pool fresh is refused: other code owns the rest of it
    markFresh(pooled)
    donate(pooled)
    const pieces = [header, view, kept, pooled]
    const plain = Buffer.concat(pieces)
    const before = { header: Buffer.from(header), kept: Buffer.from(kept), pooled: Buffer.from(pooled), rest: Buffer.from(block.subarray(0, 1000)) }
    const expected = bytesOf(defaultCrypto.chaCha20Poly1305Encrypt(plain, nonce, ad, k))
    const inPlaceBefore = noiseSealedInPlace()
    const sealed = lessCopyingNoiseCrypto.chaCha20Poly1305Encrypt(new Uint8ArrayList(...pieces) as unknown as Uint8Array, nonce, ad, k)
    expect(bytesOf(sealed).equals(expected)).toBe(true)
    expect(noiseSealedInPlace() - inPlaceBefore).toBe(1)
    // the donated view is now its ciphertext; nothing else changed
    expect(view.equals(expected.subarray(12, 12 + 30_000))).toBe(true)
    expect(header.equals(before.header)).toBe(true)
    expect(kept.equals(before.kept)).toBe(true)
    expect(pooled.equals(before.pooled)).toBe(true)
    expect(block.subarray(0, 1000).equals(before.rest)).toBe(true)
    // the library opens what we sealed
    expect(bytesOf(defaultCrypto.chaCha20Poly1305Decrypt(Buffer.from(expected), nonce, ad, k)).equals(plain)).toBe(true)
  })
})

describe('Noise decryption in place', () => {
  it.each([0, 10, 1199, 1200, 65_519])('opens %i bytes where they lie, from an array and from a list, and refuses a flipped byte', (n) => {
    const k = randomBytes(32)
    const nonce = randomBytes(12)
    const ad = randomBytes(32)
    const plain = randomBytes(n)
    const sealed = bytesOf(defaultCrypto.chaCha20Poly1305Encrypt(plain, nonce, ad, k))
    const whole = Buffer.from(sealed)
    expect(bytesOf(openInPlace(whole, nonce, ad, k) as Uint8Array).equals(plain)).toBe(true)
    expect(whole.subarray(0, n).equals(plain)).toBe(true)
    // a message spanning three socket reads, the tag split between two
    const cut = [n >> 1, n + 7]
    const parts = [sealed.subarray(0, cut[0]), sealed.subarray(cut[0], cut[1]), sealed.subarray(cut[1])].map((p) => Buffer.from(p))
    const list = new Uint8ArrayList(...parts)
    expect(bytesOf(openInPlace(list as unknown as Uint8Array, nonce, ad, k) as Uint8Array).equals(plain)).toBe(true)
    const bad = Buffer.from(sealed)
    bad[Math.max(0, n - 1)] ^= 1
    expect(() => openInPlace(bad, nonce, ad, k)).toThrow()
  })
})

const nodes: Libp2p[] = []
afterEach(async () => { for (const n of nodes.splice(0)) await n.stop() })

/** A libp2p node with the stock Noise and yamux, stopped after each test. */
async function stockNode (): Promise<Awaited<ReturnType<typeof createLibp2p>>> {
  const stock = await createLibp2p({
    privateKey: await generateKeyPair('Ed25519'),
    addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] },
    transports: [tcp()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()]
  })
  nodes.push(stock)
  return stock
}

describe('an mlp node and a stock libp2p Noise node', () => {
  it('echo every byte both ways, in messages small and large', async () => {
    const ECHO = '/mlp-test/echo/1.0.0'
    const stock = await stockNode()
    await stock.handle(ECHO, async (stream) => {
      for await (const chunk of stream) {
        if (!stream.send(chunk)) await stream.onDrain()
      }
      await stream.close()
    })
    const ours = await createNode({ privateKey: await generateKeyPair('Ed25519'), listen: ['/ip4/127.0.0.1/tcp/0'], mdns: false })
    nodes.push(ours)
    const inPlaceBefore = noiseOpenedInPlace()
    const stream = await ours.dialProtocol(stock.getMultiaddrs()[0], ECHO)
    // sizes on both sides of the 1200-byte switch and of the 64 KiB Noise message
    const sent = [100, 1199, 1200, 70_000, 1_000_000, 3, 65_519, 65_520, 2_000_000].map((n) => randomBytes(n))
    const total = sent.reduce((n, b) => n + b.length, 0)
    const received: Buffer[] = []
    const reading = (async () => {
      let got = 0
      for await (const chunk of stream) {
        received.push(bytesOf(chunk))
        got += chunk.byteLength
        if (got >= total) break
      }
    })()
    for (const b of sent) {
      if (!stream.send(b)) await stream.onDrain()
    }
    await reading
    expect(Buffer.concat(received).equals(Buffer.concat(sent))).toBe(true)
    // positive control: the echo above went through the replaced decrypt,
    // decrypting our side's messages in place (the stock node shares the
    // patched class, and its messages must not be: it echoed every byte)
    expect(noiseDecryptPatched()).toBe(true)
    expect(noiseOpenedInPlace() - inPlaceBefore).toBeGreaterThan(sent.length)
    await stream.close()
  })
})

describe('an mlp node\'s yamux streams', () => {
  it('grow their receive window to MAX_STREAM_WINDOW_BYTES at most, where the library allows 16 MiB', async () => {
    const SINK = '/mlp-test/sink/1.0.0'
    const stock = await stockNode()
    const ours = await createNode({ privateKey: await generateKeyPair('Ed25519'), listen: ['/ip4/127.0.0.1/tcp/0'], mdns: false })
    nodes.push(ours)
    const windowOf = (s: unknown): number => (s as { maxStreamWindowSize: number }).maxStreamWindowSize
    let opened: (stream: unknown) => void = () => {}
    const stockSide = new Promise<unknown>((resolve) => { opened = resolve })
    await stock.handle(SINK, (stream) => { opened(stream) })
    const stream = await ours.dialProtocol(stock.getMultiaddrs()[0], SINK)
    expect(windowOf(stream)).toBe(MAX_STREAM_WINDOW_BYTES)
    // positive control: the same field of the stock node's end of the stream holds the library's default
    expect(windowOf(await stockSide)).toBe(16 * 1024 * 1024)
    stream.abort(new Error('done'))
  })
})
