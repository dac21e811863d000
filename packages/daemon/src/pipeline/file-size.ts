import { closeSync, fstatSync, openSync, readSync } from 'node:fs'
import { PipelineError } from './errors.js'
import { checkInsideProject } from './contained.js'

/**
 * Largest pipeline, params or lock file mlp reads. They are parsed on the
 * daemon's event loop and come from git (anyone who can push can write
 * them): a 4 MiB YAML file parses in well under a second, while a 100 MiB one
 * would stall every other request for a long time. Real ones are kilobytes.
 */
export const MAX_PIPELINE_FILE_BYTES = 4 * 1024 * 1024

/**
 * Bytes read at a time: the buffer grows only as the file turns out to need
 * it. Whole chunks only (some procfs files refuse reads of odd sizes), so at
 * most {@link MAX_PIPELINE_FILE_BYTES} plus one chunk is ever read.
 */
const CHUNK = 64 * 1024
const MAX_READ = MAX_PIPELINE_FILE_BYTES + CHUNK

function tooLarge (file: string, bytes: number): Error {
  return new PipelineError(`${file}: ${(bytes / 1024 / 1024).toFixed(1)} MiB is over the ${MAX_PIPELINE_FILE_BYTES / 1024 / 1024} MiB mlp reads in a pipeline, params or lock file`)
}

/** Refuses text over {@link MAX_PIPELINE_FILE_BYTES} (from `git show`, say) with the one-line error the files get. */
export function checkTextSize (text: string, file: string): void {
  if (text.length > MAX_PIPELINE_FILE_BYTES) throw tooLarge(file, Buffer.byteLength(text))
}

/**
 * A pipeline, params or lock file's text. Refuses, with a one-line
 * {@link PipelineError}:
 * - a file whose real path leaves `root` (the project: git can commit
 *   `params.yaml -> /proc/self/pagemap` or `-> ~/.ssh/id_ed25519`), when
 *   `root` is given;
 * - anything that is not a regular file (a symlink to `/dev/zero`);
 * - more than {@link MAX_PIPELINE_FILE_BYTES}, whatever `st_size` says
 *   (procfs files say 0): at most that plus one chunk is ever read, a chunk
 *   at a time, into a buffer of at most that size.
 * Errors opening the file are thrown as they are, for the caller to word.
 */
export function readPipelineText (file: string, root?: string): string {
  const real = root == null ? file : checkInsideProject(root, file)
  const fd = openSync(real, 'r')
  try {
    const st = fstatSync(fd)
    if (!st.isFile()) throw new PipelineError(`${file}: not a regular file`)
    if (st.size > MAX_PIPELINE_FILE_BYTES) throw tooLarge(file, st.size)
    let buf = Buffer.allocUnsafe(Math.min(MAX_READ, CHUNK * Math.ceil((st.size + 1) / CHUNK)))
    let n = 0
    while (n <= MAX_PIPELINE_FILE_BYTES) {
      if (buf.length - n < CHUNK) {
        const bigger = Buffer.allocUnsafe(Math.min(MAX_READ, buf.length * 2))
        buf.copy(bigger, 0, 0, n)
        buf = bigger
      }
      const r = readSync(fd, buf, n, CHUNK, null)
      if (r === 0) break
      n += r
    }
    if (n > MAX_PIPELINE_FILE_BYTES) throw new PipelineError(`${file}: over the ${MAX_PIPELINE_FILE_BYTES / 1024 / 1024} MiB mlp reads in a pipeline, params or lock file (it said ${st.size} bytes)`)
    return buf.subarray(0, n).toString('utf8')
  } finally {
    closeSync(fd)
  }
}
