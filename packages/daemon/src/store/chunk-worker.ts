import { open, type FileHandle } from 'node:fs/promises'
import { parentPort, workerData } from 'node:worker_threads'
import { DEFAULT_CHUNKER, findCut } from './chunker.js'
import type { ChunkWorkerData, FromChunkWorker, ToChunkWorker } from './chunk-messages.js'

// Reads one file and finds its chunk boundaries on a thread of its own, so
// that the daemon's main thread only hashes and stores. Buffers go to the
// main thread and come back once the blocks cut from them are stored; a
// fixed number of them bounds memory whatever the file's size.

const port = parentPort
if (port == null) throw new Error('chunk-worker runs as a worker thread')
const { path, readBytes, buffers } = workerData as ChunkWorkerData
const max = DEFAULT_CHUNKER.maxSize

const free: ArrayBuffer[] = []
let wake: (() => void) | undefined
port.on('message', (m: ToChunkWorker) => {
  free.push(m.buffer)
  wake?.()
})

async function take (): Promise<Buffer> {
  while (free.length === 0) await new Promise<void>((resolve) => { wake = resolve })
  wake = undefined
  return Buffer.from(free.pop() as ArrayBuffer)
}

function post (msg: FromChunkWorker, transfer: ArrayBuffer[] = []): void {
  port?.postMessage(msg, transfer)
}

/**
 * Each buffer holds one read after a reserved front of one maximal chunk,
 * where the unconsumed tail of the previous buffer is copied: a chunk never
 * straddles two buffers.
 */
async function run (): Promise<void> {
  for (let i = 0; i < buffers; i++) free.push(new ArrayBuffer(max + readBytes))
  const fh = await open(path, 'r')
  // the next read runs on the thread pool while this thread cuts the current buffer
  const readInto = async (b: Buffer, file: FileHandle): Promise<number> => (await file.read(b, max, readBytes, null)).bytesRead
  try {
    let buf = await take()
    let n = await readInto(buf, fh)
    let start = max
    let end = max + n
    let eof = n === 0
    let ahead = eof ? undefined : await take()
    let reading = ahead == null ? undefined : readInto(ahead, fh)
    let first = start
    let lengths: number[] = []
    let bytes = 0
    while (start < end) {
      if (!eof && end - start < max) {
        const next = ahead as Buffer
        n = await (reading as Promise<number>)
        const tail = end - start
        next.set(buf.subarray(start, end), max - tail)
        if (lengths.length > 0) post({ type: 'segment', buffer: buf.buffer as ArrayBuffer, start: first, lengths }, [buf.buffer as ArrayBuffer])
        else free.push(buf.buffer as ArrayBuffer)
        buf = next
        start = max - tail
        end = max + n
        eof = n === 0
        first = start
        lengths = []
        ahead = eof ? undefined : await take()
        reading = ahead == null ? undefined : readInto(ahead, fh)
        continue
      }
      const cut = findCut(buf, start, end, eof)
      lengths.push(cut)
      start += cut
      bytes += cut
    }
    if (lengths.length > 0) post({ type: 'segment', buffer: buf.buffer as ArrayBuffer, start: first, lengths }, [buf.buffer as ArrayBuffer])
    post({ type: 'end', bytes })
  } finally {
    await fh.close()
  }
}

run().catch((err: NodeJS.ErrnoException) => {
  post({ type: 'error', message: err.message, code: err.code })
})
