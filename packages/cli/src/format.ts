import { formatBytes } from '@mlp/proto'

export { formatBytes }

/** Human rendering helpers shared by commands. */

/** `1h 2m 3s` from milliseconds. */
export function formatDuration (ms: number): string {
  let s = Math.floor(ms / 1000)
  const h = Math.floor(s / 3600)
  s -= h * 3600
  const m = Math.floor(s / 60)
  s -= m * 60
  return [h > 0 ? `${h}h` : '', h > 0 || m > 0 ? `${m}m` : '', `${s}s`].filter(Boolean).join(' ')
}

/** C0 and C1 controls, DEL, and invisible or bidi code points (the daemon's store/path-rules.ts lists the same). */
// eslint-disable-next-line no-control-regex
const HIDDEN = /[\u0000-\u001f\u007f-\u009f\u00ad\u200b-\u200f\u2028-\u202e\u2060-\u206f\ufeff]/gu

/**
 * `text` with every control, invisible or bidi character written as a
 * `\uXXXX` escape: cells hold what peers wrote (experiment keys, values,
 * names), and none of it may reach the terminal as an escape sequence.
 */
export function printable (text: string): string {
  return text.replace(HIDDEN, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`)
}

/** Left-aligned text table with a header row; every cell goes through {@link printable}. */
export function table (header: string[], rawRows: string[][]): string {
  const rows = rawRows.map((r) => r.map((cell) => printable(cell)))
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]?.length ?? 0)))
  const line = (cells: string[]): string => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]))).join('  ')
  return [line(header), ...rows.map(line)].join('\n')
}

/** Seconds of transfer before a rate, and so an ETA, is worth showing. */
const ETA_AFTER_SECONDS = 1

/** One progress line for a transfer: done/total bytes and files, rate, ETA. */
export function formatTransfer (p: { bytes: number, totalBytes: number, files: number, totalFiles: number }, startedAt: number, label: string): string {
  const seconds = Math.max((Date.now() - startedAt) / 1000, 0.001)
  const rate = p.bytes / seconds
  const pct = p.totalBytes > 0 ? Math.floor((p.bytes / p.totalBytes) * 100) : 100
  const eta = rate > 0 && p.totalBytes > p.bytes ? formatDuration(((p.totalBytes - p.bytes) / rate) * 1000) : '0s'
  return `${label} ${pct}% ${formatBytes(p.bytes)}/${formatBytes(p.totalBytes)}  ${p.files}/${p.totalFiles} files  ${formatBytes(rate)}/s  ETA ${eta}`
}

/**
 * One progress line for a fetch: bytes, rate, peers serving and, once the
 * root block (which carries the DAG's size) is here, percent and ETA. Bytes
 * already in the store count as done but not toward the rate.
 */
export function formatFetch (p: { root: string, bytes: number, peers: number, totalBytes: number, presentBytes: number, path?: string }, startedAt: number, now = Date.now()): string {
  const seconds = Math.max((now - startedAt) / 1000, 0.001)
  const rate = p.bytes / seconds
  const head = `fetching ${p.path ?? `${p.root.slice(0, 12)}...`}`
  // between peers (a wave ended, the fetch finished) nobody is serving: say nothing rather than "0 peers"
  const peers = p.peers > 0 ? `  ${p.peers} peer${p.peers === 1 ? '' : 's'}` : ''
  if (p.totalBytes <= 0) return `${head} ${formatBytes(p.bytes)}  ${formatBytes(rate)}/s${peers}`
  const done = Math.min(p.bytes + p.presentBytes, p.totalBytes)
  // a rate from the first milliseconds (one block) promised "ETA 25h": none until it means something
  const eta = rate > 0 && seconds >= ETA_AFTER_SECONDS ? formatDuration(((p.totalBytes - done) / rate) * 1000) : '?'
  // the ETA before the peers: an 80-column terminal still shows it
  return `${head} ${Math.floor((done / p.totalBytes) * 100)}% ${formatBytes(done)}/${formatBytes(p.totalBytes)}  ${formatBytes(rate)}/s  ETA ${eta}${peers}`
}
