/** What a chunk worker is started with. */
export interface ChunkWorkerData {
  path: string
  /** Bytes per read. */
  readBytes: number
  /** Buffers in circulation between the worker and the main thread. */
  buffers: number
}

/** Worker to main thread: chunks cut from one buffer, the end of the file, or a failure. */
export type FromChunkWorker =
  | { type: 'segment', buffer: ArrayBuffer, start: number, lengths: number[] }
  | { type: 'end', bytes: number }
  | { type: 'error', message: string, code?: string }

/** Main thread to worker: a buffer whose blocks are stored, free for the next read. */
export interface ToChunkWorker {
  buffer: ArrayBuffer
}
