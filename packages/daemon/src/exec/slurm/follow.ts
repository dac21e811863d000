import { open, type FileHandle } from 'node:fs/promises'
import type { LogLine } from '../local.js'

/** Most bytes read from an output file per look, so one chatty job cannot hold the daemon. */
const READ_BYTES = 1 << 20

/**
 * Follows a file Slurm writes a job's output to (on the shared filesystem,
 * possibly from another node), emitting whole lines as they appear. The file
 * may not exist until the job starts.
 */
export class OutputFollower {
  private handle?: FileHandle
  private offset = 0
  private partial = ''
  private readonly decoder = new TextDecoder()
  /** A look in progress: a timer's look and the final one never read the same bytes twice. */
  private busy: Promise<void> = Promise.resolve()

  constructor (private readonly file: string, private readonly stream: LogLine['stream'], private readonly onLine: (l: LogLine) => void) {}

  /** Reads what was appended since the last look; `last`: the job ended, so a line without its newline is emitted too. */
  async look (last = false): Promise<void> {
    this.busy = this.busy.then(async () => { await this.read(last) })
    await this.busy
  }

  private async read (last: boolean): Promise<void> {
    if (this.handle == null) {
      try {
        this.handle = await open(this.file, 'r')
      } catch {
        return
      }
    }
    const buf = Buffer.alloc(READ_BYTES)
    for (;;) {
      const { bytesRead } = await this.handle.read(buf, 0, READ_BYTES, this.offset)
      if (bytesRead === 0) break
      this.offset += bytesRead
      const lines = (this.partial + this.decoder.decode(buf.subarray(0, bytesRead), { stream: true })).split('\n')
      this.partial = lines.pop() ?? ''
      for (const line of lines) this.onLine({ stream: this.stream, line })
      if (!last) break
    }
    if (last && this.partial !== '') {
      this.onLine({ stream: this.stream, line: this.partial })
      this.partial = ''
    }
  }

  async close (): Promise<void> {
    await this.busy.catch(() => {})
    await this.handle?.close()
    this.handle = undefined
  }
}
