import { parentPort } from 'node:worker_threads'
import type { RenderReply, RenderRequest } from './render-messages.js'
import { vegaSvg } from './vega-svg.js'

// Draws plots on a thread of its own: 50,000 points took seconds of CPU,
// which on the daemon's main thread would stall every request and every
// peer's transfer for as long.

const port = parentPort
if (port == null) throw new Error('render-worker runs as a worker thread')

port.on('message', (m: RenderRequest) => {
  vegaSvg(m.spec, m.what).then(
    (svg) => { port.postMessage({ id: m.id, svg } satisfies RenderReply) },
    (err: Error) => { port.postMessage({ id: m.id, error: { name: err.name, message: err.message } } satisfies RenderReply) }
  )
})
