import { Worker } from 'node:worker_threads'
import type { ChunkWorkerData, FromChunkWorker } from './chunk-messages.js'

/** Chunks cut from one buffer; call `release` once no block points into `buffer` any more. */
export interface ChunkSegment {
  buffer: Buffer
  /** Offset of the first chunk in `buffer`. */
  start: number
  /** Lengths of the consecutive chunks from `start`. */
  lengths: number[]
  release: () => void
}

const WORKER = new URL('./chunk-worker.js', import.meta.url)

/**
 * The content-defined chunks of a file, read and cut on a worker thread
 * while the caller hashes and stores the previous ones. Read errors come
 * back as errors with the same `code` (ENOENT, EACCES, ...). Aborting, or
 * leaving the loop early, stops the worker.
 */
export async function * chunkFile (path: string, options: { readBytes: number, buffers: number, signal?: AbortSignal }): AsyncGenerator<ChunkSegment> {
  const data: ChunkWorkerData = { path, readBytes: options.readBytes, buffers: options.buffers }
  const worker = new Worker(WORKER, { workerData: data })
  const inbox: FromChunkWorker[] = []
  let failure: Error | undefined
  let wake: (() => void) | undefined
  const notify = (): void => { wake?.() }
  worker.on('message', (m: FromChunkWorker) => { inbox.push(m); notify() })
  worker.on('error', (err) => { failure = err; notify() })
  worker.on('exit', (code) => {
    failure ??= new Error(`the chunking thread for ${path} exited early (code ${code})`)
    notify()
  })
  const onAbort = (): void => { notify() }
  options.signal?.addEventListener('abort', onAbort)
  try {
    for (;;) {
      options.signal?.throwIfAborted()
      const m = inbox.shift()
      if (m == null) {
        if (failure != null) throw failure
        await new Promise<void>((resolve) => { wake = resolve })
        continue
      }
      if (m.type === 'end') return
      if (m.type === 'error') throw Object.assign(new Error(m.message), { code: m.code })
      const buffer = Buffer.from(m.buffer)
      yield { buffer, start: m.start, lengths: m.lengths, release: () => { worker.postMessage({ buffer: m.buffer }, [m.buffer]) } }
    }
  } finally {
    options.signal?.removeEventListener('abort', onAbort)
    worker.removeAllListeners('exit')
    await worker.terminate()
  }
}
