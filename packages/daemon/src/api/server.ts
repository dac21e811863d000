import { chmod, unlink } from 'node:fs/promises'
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import {
  API_PREFIX, BYTE_ROUTE_NAMES, BadRequestError, END_TRAILER, ERROR_TRAILER, ROUTE_NAMES, UnknownRouteError, errorToJSON,
  type ByteRoutes, type Frame, type RouteName, type Routes
} from '@mlp/proto'
import { MAX_API_BODY_BYTES } from '../constants.js'
import type { Logger } from '../logger.js'

/** What a route handler gets besides its request body. */
export interface HandlerContext<R extends RouteName> {
  /** Aborted when the client goes away or the daemon stops. */
  signal: AbortSignal
  /** Sends one progress frame to the client. */
  progress: (event: Routes[R]['progress']) => void
}

/** A route handler. */
export type Handler<R extends RouteName> = (request: Routes[R]['request'], ctx: HandlerContext<R>) => Promise<Routes[R]['result']>

/** One handler for every route of the contract. */
export type Handlers = { [R in RouteName]: Handler<R> }

/** A handler of a byte route: the bytes to send. */
export type ByteHandler<R extends keyof ByteRoutes> = (request: ByteRoutes[R]['request'], signal: AbortSignal) => AsyncIterable<Uint8Array>

/** One handler for every byte route. */
export type ByteHandlers = { [R in keyof ByteRoutes]: ByteHandler<R> }

/** Options of {@link startApiServer}. */
export interface ApiServerInit {
  socket: string
  handlers: Handlers
  byteHandlers: ByteHandlers
  log: Logger
}

/** A running local API server. */
export interface ApiServer {
  close: () => Promise<void>
}

/**
 * Serves the local API on a unix socket (mode 0600: only this user may drive
 * the daemon). Any stale socket file left by a crashed daemon is removed
 * first; the caller holds the pid file, so no live daemon owns it.
 */
export async function startApiServer (init: ApiServerInit): Promise<ApiServer> {
  const stopping = new AbortController()
  const server: Server = createServer((req, res) => { void handle(init, req, res, stopping.signal) })
  await unlink(init.socket).catch(() => {})
  const oldMask = process.umask(0o177)
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject)
      server.listen(init.socket, () => { server.off('error', reject); resolve() })
    })
  } finally {
    process.umask(oldMask)
  }
  await chmod(init.socket, 0o600)
  return {
    close: async () => {
      stopping.abort()
      server.closeAllConnections()
      await new Promise<void>((resolve) => server.close(() => { resolve() }))
      await unlink(init.socket).catch(() => {})
    }
  }
}

async function handle (init: ApiServerInit, req: IncomingMessage, res: ServerResponse, stopping: AbortSignal): Promise<void> {
  const gone = new AbortController()
  res.on('close', () => { if (!res.writableFinished) gone.abort() })
  const signal = AbortSignal.any([gone.signal, stopping])
  const send = (frame: Frame): void => {
    if (!res.headersSent) res.writeHead(200, { 'content-type': 'application/x-ndjson' })
    if (!res.destroyed) res.write(JSON.stringify(frame) + '\n')
  }
  try {
    // the body is read before anything can fail: answering early would leave
    // unread bytes on a keep-alive connection and break the client's next request
    const body = await readBody(req).catch((err: unknown) => {
      res.shouldKeepAlive = false
      throw err
    })
    const route = parseRoute(req)
    if (route in init.byteHandlers) {
      await sendBytes(init.byteHandlers[route as keyof ByteRoutes](body as never, signal), res, signal)
    } else {
      const handler = init.handlers[route as RouteName] as Handler<RouteName>
      const result = await handler(body as never, { signal, progress: (event) => { send({ type: 'progress', event }) } })
      send({ type: 'result', result })
    }
  } catch (err) {
    const error = errorToJSON(err)
    if (error.name === 'InternalError') init.log.error('request failed', { url: req.url, error: error.message, stack: (err as Error).stack })
    if (res.headersSent && res.getHeader('content-type') === 'application/octet-stream') {
      res.addTrailers({ [ERROR_TRAILER]: JSON.stringify(error) })
    } else {
      send({ type: 'error', error })
    }
  }
  res.end()
}

/**
 * Streams bytes with backpressure. The first chunk is produced before the
 * headers go out, so an unknown id or a corrupt first block still comes back
 * as an ordinary error frame; a later error goes in the {@link ERROR_TRAILER}
 * trailer, and a stream that ended well says so in {@link END_TRAILER}.
 */
async function sendBytes (source: AsyncIterable<Uint8Array>, res: ServerResponse, signal: AbortSignal): Promise<void> {
  const it = source[Symbol.asyncIterator]()
  try {
    let next = await it.next()
    // set, not passed to writeHead: only then does the error path's getHeader see a byte
    // stream (it did not, and an error frame went out inside the bytes; `mlp cat` printed it, exit 0)
    res.setHeader('content-type', 'application/octet-stream')
    res.setHeader('trailer', `${ERROR_TRAILER}, ${END_TRAILER}`)
    res.writeHead(200)
    let sent = 0
    while (next.done !== true) {
      signal.throwIfAborted()
      sent += next.value.length
      if (!res.write(next.value)) await drained(res)
      next = await it.next()
    }
    // a whole body says so: the client fails any stream that ends without this count
    res.addTrailers({ [END_TRAILER]: String(sent) })
  } finally {
    // a client that went away leaves the source suspended: close it (its reads, its files)
    await it.return?.().catch(() => {})
  }
}

/**
 * Waits for the response to drain or close, whichever comes first, and
 * removes both listeners: leaving the other one behind added a `close`
 * listener per full buffer, and a long `cat` passed Node's limit of 10 (a
 * MaxListenersExceededWarning in daemon.log, and a leak for the response's life).
 */
async function drained (res: ServerResponse): Promise<void> {
  await new Promise<void>((resolve) => {
    const done = (): void => {
      res.off('drain', done)
      res.off('close', done)
      resolve()
    }
    res.on('drain', done)
    res.on('close', done)
  })
}

function parseRoute (req: IncomingMessage): RouteName | keyof ByteRoutes {
  const url = req.url ?? ''
  if (req.method !== 'POST' || !url.startsWith(API_PREFIX)) throw new BadRequestError(`expected POST ${API_PREFIX}<route>, got ${req.method ?? '?'} ${url}`)
  const route = url.slice(API_PREFIX.length) as RouteName
  if (!ROUTE_NAMES.includes(route) && !BYTE_ROUTE_NAMES.includes(route as keyof ByteRoutes)) throw new UnknownRouteError(`unknown API route '${route}': the CLI and daemon versions may differ; restart the daemon`)
  return route
}

async function readBody (req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length
    if (size > MAX_API_BODY_BYTES) throw new BadRequestError(`request body over ${MAX_API_BODY_BYTES} bytes`)
    chunks.push(chunk)
  }
  if (size === 0) return {}
  let body: unknown
  try {
    body = JSON.parse(Buffer.concat(chunks).toString('utf8'))
  } catch {
    throw new BadRequestError('request body is not valid JSON')
  }
  if (body == null || typeof body !== 'object' || Array.isArray(body)) throw new BadRequestError('request body must be a JSON object')
  return body
}
