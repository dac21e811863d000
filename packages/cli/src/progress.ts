/**
 * One self-overwriting status line on stderr, drawn only on a TTY (never into
 * pipes, logs or `--json` output) and throttled so a fast stream of events
 * costs nothing.
 */
export class ProgressLine {
  private readonly enabled: boolean
  private last = 0
  private drawn = false

  constructor (wanted: boolean, private readonly stream: NodeJS.WriteStream = process.stderr) {
    this.enabled = wanted && stream.isTTY === true
  }

  /** Redraws the line, at most ten times a second. */
  update (text: string): void {
    if (!this.enabled) return
    const now = Date.now()
    if (now - this.last < 100) return
    this.last = now
    // a pseudo-terminal nobody sized reports 0 columns
    const width = (this.stream.columns ?? 0) > 0 ? this.stream.columns : 80
    this.stream.write(`\r${text.slice(0, width - 1).padEnd(width - 1)}`)
    this.drawn = true
  }

  /** Erases the line. */
  clear (): void {
    if (this.drawn) this.stream.write(`\r${' '.repeat(((this.stream.columns ?? 0) > 0 ? this.stream.columns : 80) - 1)}\r`)
    this.drawn = false
  }
}
