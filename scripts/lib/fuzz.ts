import { request } from 'node:http'
import { ROUTE_NAMES, MsgType, WireError, decodeMessage, encodeMessage, type WireMessage } from '@mlp/proto'

/** A small seeded PRNG (mulberry32): the same seed gives the same inputs. */
export function prng (seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

function bytes (rand: () => number, n: number): Uint8Array {
  return Uint8Array.from({ length: n }, () => Math.floor(rand() * 256))
}

/** Valid messages of every type, to mutate. */
function seeds (rand: () => number): WireMessage[] {
  const id = (): Uint8Array => Uint8Array.from([1, 0x55, 0x1e, 32, ...bytes(rand, 32)])
  return [
    { type: MsgType.Want, req: 1, cids: [id(), id()] },
    { type: MsgType.Block, req: 2, cid: id(), data: bytes(rand, 100) },
    { type: MsgType.Missing, req: 3, cid: id() },
    { type: MsgType.Has, req: 4, cids: [id()] },
    { type: MsgType.Have, req: 5, have: [true, false, true] },
    { type: MsgType.Replicate, req: 6, cids: [id()] },
    { type: MsgType.Result, req: 7, ok: false, message: 'no' },
    { type: MsgType.RunCache, req: 8, key: 'f'.repeat(64) },
    { type: MsgType.Json, req: 9, json: '{"op":"run"}' }
  ]
}

/**
 * Feeds `count` generated frames to the wire decoder: random bytes and
 * mutations (bit flips, truncations, extensions, swapped type bytes) of valid
 * messages. Anything but a decoded message or a WireError is a failure.
 */
export function fuzzWire (count: number, seed: number): { decoded: number, rejected: number, failures: string[] } {
  const rand = prng(seed)
  const valid = seeds(rand).map((m) => encodeMessage(m))
  let decoded = 0
  let rejected = 0
  const failures: string[] = []
  for (let i = 0; i < count; i++) {
    let input: Uint8Array
    const mode = Math.floor(rand() * 5)
    const base = valid[Math.floor(rand() * valid.length)]
    if (mode === 0) input = bytes(rand, Math.floor(rand() * 200))
    else if (mode === 1) {
      input = Uint8Array.from(base)
      for (let k = 0; k < 1 + Math.floor(rand() * 4); k++) input[Math.floor(rand() * input.length)] ^= 1 << Math.floor(rand() * 8)
    } else if (mode === 2) input = base.subarray(0, Math.floor(rand() * base.length))
    else if (mode === 3) input = Uint8Array.from([...base, ...bytes(rand, 1 + Math.floor(rand() * 20))])
    else {
      input = Uint8Array.from(base)
      input[0] = Math.floor(rand() * 12)
    }
    try {
      decodeMessage(input)
      decoded++
    } catch (err) {
      if (err instanceof WireError) rejected++
      else failures.push(`${(err as Error).name}: ${(err as Error).message} for ${Buffer.from(input).toString('hex').slice(0, 80)}`)
    }
  }
  return { decoded, rejected, failures }
}

async function post (socket: string, method: string, path: string, body: string): Promise<{ status: number, text: string }> {
  return await new Promise((resolve, reject) => {
    const req = request({ socketPath: socket, method, path, headers: { 'content-type': 'application/json' } }, (res) => {
      let text = ''
      res.setEncoding('utf8')
      res.on('data', (c: string) => { text += c })
      res.on('end', () => { resolve({ status: res.statusCode ?? 0, text }) })
    })
    req.on('error', reject)
    req.setTimeout(30_000, () => { req.destroy(new Error(`no answer to ${method} ${path}`)) })
    req.end(body)
  })
}

/**
 * Sends `count` generated requests to a daemon's local API: unknown routes
 * and methods, real routes with bodies of the wrong shape, broken JSON.
 * Every answer must be NDJSON ending in a result or a typed error that is not
 * an InternalError (which would mean an unhandled exception).
 */
export async function fuzzApi (socket: string, sandbox: string, count: number, seed: number): Promise<{ results: number, errors: Record<string, number>, failures: string[] }> {
  const rand = prng(seed)
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]
  // daemon/stop would end the run; everything else is fair game
  const routes = ROUTE_NAMES.filter((r) => r !== 'daemon/stop')
  const values = (): unknown => pick([null, 0, -1, 1e308, '', 'x', '/', sandbox, 'relative/path', '../../etc', [], {}, ['a'], true, 'bafkr4ihkr4ld3m4gqkjf4reryxsy2s5tkbxprqkow6fin2iiyvreuzzab4', '/ip4/127.0.0.1/tcp/1', '12D3KooW', 'x'.repeat(5000)])
  const keys = ['cwd', 'paths', 'targets', 'cid', 'addr', 'peerId', 'id', 'out', 'to', 'rev', 'name', 'cmd', 'force', 'dry', 'jobs', 'follow', 'ping']
  const errors: Record<string, number> = {}
  const failures: string[] = []
  let results = 0
  let previous = ''
  for (let i = 0; i < count; i++) {
    const mode = Math.floor(rand() * 10)
    let method = 'POST'
    let path = `/v0/${pick(routes)}`
    let body: string
    if (mode === 0) method = pick(['GET', 'PUT', 'DELETE'])
    if (mode === 1) path = pick(['/', '/v0/', '/v1/id', `/v0/${Math.floor(rand() * 1e9)}`, '/v0/../etc'])
    if (mode === 2) body = pick(['{', 'null', '[]', '"x"', '{"cwd":', '\u0000'])
    else {
      const obj: Record<string, unknown> = {}
      for (let k = 0; k < Math.floor(rand() * 4); k++) obj[pick(keys)] = values()
      if (rand() < 0.3) obj.cwd = sandbox
      body = JSON.stringify(obj)
    }
    let text: string
    try {
      const r = await post(socket, method, path, body)
      if (r.status === 400 && r.text === '') {
        // refused by Node's HTTP parser before it reached the API (a GET with a chunked body)
        errors.HttpParser = (errors.HttpParser ?? 0) + 1
        continue
      }
      text = r.text
    } catch (err) {
      failures.push(`#${i} ${method} ${path} ${body.slice(0, 60)}: connection failed: ${(err as Error).message} (previous: ${previous})`)
      if (failures.length > 20) break
      continue
    }
    const last = text.trim().split('\n').pop() ?? ''
    previous = `#${i} ${method} ${path} ${body.slice(0, 80)} -> ${last.slice(0, 100)}`
    let frame: { type?: string, error?: { name?: string, message?: string } }
    try {
      frame = JSON.parse(last) as typeof frame
    } catch {
      failures.push(`${method} ${path} ${body.slice(0, 60)}: answer is not NDJSON: ${last.slice(0, 80)}`)
      continue
    }
    if (frame.type === 'result') results++
    else if (frame.type === 'error' && typeof frame.error?.name === 'string' && frame.error.name !== 'InternalError') errors[frame.error.name] = (errors[frame.error.name] ?? 0) + 1
    else failures.push(`${method} ${path} ${body.slice(0, 60)}: ${last.slice(0, 160)}`)
  }
  return { results, errors, failures }
}
