import { closeSync, fstatSync, openSync, readFileSync } from 'node:fs'
import { PipelineError } from './errors.js'

/**
 * Largest pipeline, params or lock file mlp reads. They are parsed on the
 * daemon's event loop and come from git (anyone who can push can write
 * them): a 4 MiB YAML file parses in well under a second, while a 100 MiB one
 * would stall every other request for a long time. Real ones are kilobytes.
 */
export const MAX_PIPELINE_FILE_BYTES = 4 * 1024 * 1024

function tooLarge (file: string, bytes: number): Error {
  return new PipelineError(`${file}: ${(bytes / 1024 / 1024).toFixed(1)} MiB is over the ${MAX_PIPELINE_FILE_BYTES / 1024 / 1024} MiB mlp reads in a pipeline, params or lock file`)
}

/** Refuses text over {@link MAX_PIPELINE_FILE_BYTES} (from `git show`, say) with the one-line error the files get. */
export function checkTextSize (text: string, file: string): void {
  if (text.length > MAX_PIPELINE_FILE_BYTES) throw tooLarge(file, Buffer.byteLength(text))
}

/**
 * A pipeline, params or lock file's text. Refuses, before reading, a file over
 * {@link MAX_PIPELINE_FILE_BYTES} and anything that is not a regular file
 * (git can commit a symlink to `/dev/zero`). Errors opening the file are
 * thrown as they are, for the caller to word.
 */
export function readPipelineText (file: string): string {
  const fd = openSync(file, 'r')
  try {
    const st = fstatSync(fd)
    if (!st.isFile()) throw new PipelineError(`${file}: not a regular file`)
    if (st.size > MAX_PIPELINE_FILE_BYTES) throw tooLarge(file, st.size)
    return readFileSync(fd, 'utf8')
  } finally {
    closeSync(fd)
  }
}
