/**
 * A signal that aborts with a `TimeoutError` after `ms`, or as soon as
 * `signal` aborts.
 *
 * Why not `AbortSignal.any([AbortSignal.timeout(ms), signal])`: on Node 20
 * the combined signal holds its sources weakly, and a timeout signal nothing
 * else holds is collected at the next garbage collection and never fires. A
 * DHT lookup or a peer query then waited forever, the more likely the busier
 * the daemon (a test that passed for weeks hung once the heap grew). Here the
 * timer itself holds the controller, so the deadline fires whatever the
 * collector does. The timer does not keep the process alive.
 */
export function deadline (ms: number, signal?: AbortSignal): AbortSignal {
  const ac = new AbortController()
  const timer = setTimeout(() => { ac.abort(new DOMException(`The operation was aborted due to timeout (${ms} ms)`, 'TimeoutError')) }, ms)
  timer.unref()
  return signal == null ? ac.signal : AbortSignal.any([ac.signal, signal])
}
