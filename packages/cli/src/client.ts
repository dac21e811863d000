import { request, type IncomingMessage } from 'node:http'
import { join } from 'node:path'
import {
  API_PREFIX, API_SOCKET, DaemonNotRunningError, END_TRAILER, ERROR_TRAILER, InternalError, errorFromJSON,
  type ByteRoutes, type Frame, type RouteName, type Routes
} from '@mlp/proto'

/** Options of one API call. */
export interface CallOptions<R extends RouteName> {
  signal?: AbortSignal
  /** Called for every progress frame the daemon sends. */
  onProgress?: (event: Routes[R]['progress']) => void
}

/** A client for one daemon's local API. */
export class ApiClient {
  readonly socket: string

  constructor (readonly home: string) {
    this.socket = join(home, API_SOCKET)
  }

  /**
   * Calls one route and resolves with its result, rethrowing a daemon error as
   * its own class. Throws {@link DaemonNotRunningError} naming `MLP_HOME` when
   * nothing answers on the socket.
   */
  async call<R extends RouteName>(route: R, body: Routes[R]['request'], options: CallOptions<R> = {}): Promise<Routes[R]['result']> {
    return await new Promise((resolve, reject) => {
      let settled = false
      const done = (fn: () => void): void => {
        if (!settled) {
          settled = true
          fn()
        }
      }
      this.post(route, body, options.signal, (err) => { done(() => { reject(err) }) }, (res) => {
        res.setEncoding('utf8')
        let buffer = ''
        const onLine = (line: string): void => {
          if (line.trim() === '') return
          const frame = JSON.parse(line) as Frame<R>
          if (frame.type === 'progress') options.onProgress?.(frame.event)
          else if (frame.type === 'result') done(() => { resolve(frame.result) })
          else done(() => { reject(errorFromJSON(frame.error)) })
        }
        res.on('data', (chunk: string) => {
          buffer += chunk
          let nl: number
          while ((nl = buffer.indexOf('\n')) >= 0) {
            onLine(buffer.slice(0, nl))
            buffer = buffer.slice(nl + 1)
          }
        })
        res.on('end', () => {
          onLine(buffer)
          done(() => { reject(new InternalError(`the daemon closed the '${route}' request without an answer; see ${join(this.home, 'daemon.log')}`)) })
        })
        res.on('error', (err) => { done(() => { reject(err) }) })
      })
    })
  }

  /**
   * Calls a byte route, handing each chunk to `onData` (awaited, for
   * backpressure). An error before the first byte arrives as an error frame;
   * one after it in the trailer: either way it is thrown as its own class. A
   * body that ends without the daemon's end trailer counting every byte is
   * an error too, so a cut stream never passes for a whole one.
   */
  async bytes<R extends keyof ByteRoutes>(route: R, body: ByteRoutes[R]['request'], onData: (chunk: Buffer) => Promise<void> | void, options: { signal?: AbortSignal } = {}): Promise<number> {
    return await new Promise((resolve, reject) => {
      this.post(route, body, options.signal, reject, (res) => {
        if (res.headers['content-type'] !== 'application/octet-stream') {
          let text = ''
          res.setEncoding('utf8')
          res.on('data', (c: string) => { text += c })
          res.on('end', () => {
            const frame = JSON.parse(text.trim().split('\n').pop() ?? '{}') as Frame
            reject(frame.type === 'error' ? errorFromJSON(frame.error) : new InternalError(`unexpected answer to '${route}'`))
          })
          return
        }
        let total = 0
        void (async () => {
          try {
            for await (const chunk of res as AsyncIterable<Buffer>) {
              total += chunk.length
              await onData(chunk)
            }
            const trailer = res.trailers[ERROR_TRAILER]
            if (trailer != null) throw errorFromJSON(JSON.parse(trailer))
            // a body is whole only when the daemon says so and the count matches: anything else was cut short
            const end = res.trailers[END_TRAILER]
            if (!res.complete || end == null || Number(end) !== total) {
              throw new InternalError(`the daemon's '${route}' stream ended after ${total} bytes without confirming them${end == null ? '' : ` (it sent ${end})`}: the output is incomplete; see ${join(this.home, 'daemon.log')}`)
            }
            resolve(total)
          } catch (err) {
            res.destroy()
            reject(err)
          }
        })()
      })
    })
  }

  /** One POST to the API socket; a socket nobody answers on becomes {@link DaemonNotRunningError}. */
  private post (route: string, body: unknown, signal: AbortSignal | undefined, onError: (err: Error) => void, onResponse: (res: IncomingMessage) => void): void {
    const payload = JSON.stringify(body)
    const req = request({
      socketPath: this.socket,
      method: 'POST',
      path: API_PREFIX + route,
      headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) },
      signal
    }, onResponse)
    req.on('error', (err: NodeJS.ErrnoException) => {
      onError(err.code === 'ENOENT' || err.code === 'ECONNREFUSED' ? notRunning(this.home) : err)
    })
    req.end(payload)
  }

  /** True when a daemon answers on the socket. */
  async isRunning (): Promise<boolean> {
    try {
      await this.call('id', {})
      return true
    } catch (err) {
      if (err instanceof DaemonNotRunningError) return false
      throw err
    }
  }
}

/** The error every command gives when no daemon answers. */
export function notRunning (home: string): InstanceType<typeof DaemonNotRunningError> {
  return new DaemonNotRunningError(`no mlp daemon is running for MLP_HOME=${home}: start one with \`mlp daemon start\``)
}
