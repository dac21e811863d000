import { randomBytes } from 'node:crypto'
import { createServer, connect, type Socket } from 'node:net'
import type { MultiaddrConnection } from '@libp2p/interface'
import { Uint8ArrayList } from 'uint8arraylist'
import { afterEach, describe, expect, it } from 'vitest'
import { corkWrites } from '../src/net/corked-tcp.js'

const cleanup: Array<() => void> = []
afterEach(() => { for (const f of cleanup.splice(0)) f() })

/** A connected socket pair on 127.0.0.1, and everything the far end receives. */
async function socketPair (): Promise<{ near: Socket, received: () => Buffer, drained: Promise<void> }> {
  const chunks: Buffer[] = []
  let far: Socket | undefined
  const server = createServer((s) => {
    far = s
    s.on('data', (d) => chunks.push(d))
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const port = (server.address() as { port: number }).port
  const near = connect(port, '127.0.0.1')
  await new Promise<void>((resolve) => near.once('connect', resolve))
  cleanup.push(() => { near.destroy(); far?.destroy(); server.close() })
  return { near, received: () => Buffer.concat(chunks), drained: new Promise((resolve) => near.once('drain', resolve)) }
}

describe('corkWrites', () => {
  it('sends every piece of a batch, in order, and reports the socket full past its high-water mark', async () => {
    const { near, received, drained } = await socketPair()
    let writes = 0
    const original = near.write.bind(near)
    near.write = ((...args: Parameters<Socket['write']>) => { writes++; return original(...args) }) as Socket['write']
    type Send = (data: Uint8ArrayList) => { sentBytes: number, canSendMore: boolean }
    // what reaches the kernel: with the socket corked for the batch, one writev of every piece
    const writevs: number[] = []
    const socketWithWritev = near as unknown as { _writev: (chunks: unknown[], cb: unknown) => void }
    const writev = socketWithWritev._writev.bind(near)
    socketWithWritev._writev = (chunks, cb) => { writevs.push(chunks.length); writev(chunks, cb) }
    const maConn: { socket: Socket, sendData: Send } = { socket: near, sendData: () => { throw new Error('the original was kept') } }
    corkWrites(maConn as unknown as MultiaddrConnection)
    const pieces = [randomBytes(2), randomBytes(65_519), randomBytes(16), randomBytes(2), randomBytes(40_000), randomBytes(16)]
    const result = maConn.sendData(new Uint8ArrayList(...pieces))
    expect(result.sentBytes).toBe(pieces.reduce((n, p) => n + p.length, 0))
    // a 100 KiB batch is over the 16 KiB default mark until the kernel takes it: the caller waits for drain
    expect(result.canSendMore).toBe(near.writableLength < near.writableHighWaterMark)
    expect(writes).toBe(pieces.length)
    expect(writevs).toEqual([pieces.length])
    if (!result.canSendMore) await drained
    const whole = Buffer.concat(pieces)
    for (let i = 0; i < 100 && received().length < whole.length; i++) await new Promise((resolve) => setTimeout(resolve, 20))
    expect(received().equals(whole)).toBe(true)
  })

  it('leaves a connection without a TCP socket as it is (control: a TCP one is replaced)', async () => {
    const own = (): { sentBytes: number, canSendMore: boolean } => ({ sentBytes: 0, canSendMore: true })
    const other = { socket: {}, sendData: own }
    corkWrites(other as unknown as MultiaddrConnection)
    expect(other.sendData).toBe(own)
    const { near } = await socketPair()
    const tcp = { socket: near, sendData: own }
    corkWrites(tcp as unknown as MultiaddrConnection)
    expect(tcp.sendData).not.toBe(own)
  })
})
