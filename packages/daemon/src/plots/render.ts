import { Worker } from 'node:worker_threads'
import { errorFromJSON, PlotError } from '@mlp/proto'
import type { TopLevelSpec } from 'vega-lite'
import type { RenderReply, RenderRequest } from './render-messages.js'

const WORKER = new URL('./render-worker.js', import.meta.url)

/** Heap of the render thread: a page at the point caps drew in well under half of it here. */
const MAX_RENDER_HEAP_MIB = 2048

/**
 * Draws Vega-Lite specs as SVG documents on a worker thread (render-worker.ts),
 * one plot at a time. One renderer serves one page: {@link SvgRenderer.close}
 * ends the thread, and an abort ends it at once, mid-plot.
 */
export class SvgRenderer {
  private readonly worker: Worker
  private readonly waiting = new Map<number, { resolve: (svg: string) => void, reject: (err: Error) => void }>()
  private next = 0
  private failed?: Error

  constructor (signal?: AbortSignal) {
    // the caps on points keep a page far below this; the limit is for a bug, not for data
    this.worker = new Worker(WORKER, { resourceLimits: { maxOldGenerationSizeMb: MAX_RENDER_HEAP_MIB } })
    // a daemon stopping does not wait for a plot
    this.worker.unref()
    this.worker.on('message', (m: RenderReply) => {
      const w = this.waiting.get(m.id)
      this.waiting.delete(m.id)
      if ('svg' in m) w?.resolve(m.svg)
      else w?.reject(errorFromJSON(m.error))
    })
    this.worker.on('error', (err) => { this.fail(new PlotError(`the plot renderer failed: ${err.message.split('\n')[0]}`, { cause: err })) })
    this.worker.on('exit', () => { this.fail(new PlotError('the plot renderer stopped')) })
    signal?.addEventListener('abort', () => {
      this.fail(signal.reason instanceof Error ? signal.reason : new Error('aborted'))
      void this.worker.terminate()
    }, { once: true })
  }

  private fail (err: Error): void {
    this.failed ??= err
    for (const w of this.waiting.values()) w.reject(this.failed)
    this.waiting.clear()
  }

  /** The standalone SVG of a spec; `what` names the plot in errors. */
  async svg (spec: TopLevelSpec, what: string): Promise<string> {
    if (this.failed != null) throw this.failed
    const id = this.next++
    return await new Promise<string>((resolve, reject) => {
      this.waiting.set(id, { resolve, reject })
      this.worker.postMessage({ id, spec, what } satisfies RenderRequest)
    })
  }

  /** Ends the thread. */
  async close (): Promise<void> {
    this.failed ??= new PlotError('the plot renderer is closed')
    await this.worker.terminate()
  }
}
