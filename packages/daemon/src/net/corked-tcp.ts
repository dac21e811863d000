import { Socket } from 'node:net'
import { tcp, type TCPComponents, type TCPOptions } from '@libp2p/tcp'
import type { MultiaddrConnection, Transport, Upgrader } from '@libp2p/interface'

/** The part of @libp2p/tcp's connection that {@link corkWrites} replaces. */
interface SendingConnection {
  socket?: unknown
  sendData: (data: Iterable<Uint8Array> & { byteLength: number }) => { sentBytes: number, canSendMore: boolean }
}

/**
 * Makes one socket write (a `writev`) of each batch a connection sends.
 *
 * @libp2p/tcp writes every piece of a batch with its own `socket.write`, and
 * each is a syscall: Noise hands it a 2-byte length, the ciphertext of each
 * piece yamux gave it and a 16-byte tag per 64 KiB message, so one 80 KiB
 * block went out in about eight writes, and a seed serving 1 GiB spent 2.6 s
 * of its main thread in `writeBuffer` (CPU profile, 2026-12-02). Corking the
 * socket for the batch hands all pieces to the kernel at once. Backpressure
 * is kept: the answer is whether the socket's buffer is under its
 * high-water mark after the batch, and a socket over it emits `drain` as
 * before.
 */
export function corkWrites (maConn: MultiaddrConnection): void {
  const conn = maConn as unknown as SendingConnection
  const socket = conn.socket
  // another transport's connection, or a @libp2p/tcp that changed shape: left as it is
  if (!(socket instanceof Socket) || typeof conn.sendData !== 'function') return
  conn.sendData = (data) => {
    socket.cork()
    try {
      for (const buf of data) socket.write(buf)
    } finally {
      socket.uncork()
    }
    return { sentBytes: data.byteLength, canSendMore: socket.writableLength < socket.writableHighWaterMark }
  }
}

/** An upgrader that corks each raw connection before upgrading it. */
function corking (upgrader: Upgrader): Upgrader {
  return new Proxy(upgrader, {
    get (target, prop) {
      if (prop === 'upgradeInbound' || prop === 'upgradeOutbound') {
        return async (maConn: MultiaddrConnection, opts: never) => {
          corkWrites(maConn)
          return await target[prop](maConn, opts)
        }
      }
      const value = Reflect.get(target, prop, target) as unknown
      return typeof value === 'function' ? value.bind(target) : value
    }
  })
}

/**
 * libp2p's TCP transport, with each connection's writes coalesced (see
 * {@link corkWrites}). Everything else is @libp2p/tcp's own.
 */
export function corkedTcp (init?: TCPOptions): (components: TCPComponents) => Transport {
  const factory = tcp(init)
  return (components) => {
    const transport = factory(components)
    const dial = transport.dial.bind(transport)
    const createListener = transport.createListener.bind(transport)
    transport.dial = async (ma, options) => await dial(ma, { ...options, upgrader: corking(options.upgrader) })
    transport.createListener = (options) => createListener({ ...options, upgrader: corking(options.upgrader) })
    return transport
  }
}
