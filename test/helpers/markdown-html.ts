import { execFile } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { inflateSync } from 'node:zlib'

// Just enough markdown for a test to look at a report in a browser (no npm
// dependency): headings, tables, images and links to plain relative files,
// backslash escapes. Raw text passes through as is, so any markup a report
// let through would reach the page.

function inline (s: string): string {
  return s
    .replace(/!\[((?:\\.|[^\]\\])*)\]\(\.\/([A-Za-z0-9._-]+)\)/g, (_, alt: string, src: string) => `<img alt="${alt.replace(/\\(.)/g, '$1').replace(/"/g, '&quot;')}" src="./${src}">`)
    .replace(/\[((?:\\.|[^\]\\])*)\]\(\.\/([A-Za-z0-9._-]+)\)/g, (_, label: string, href: string) => `<a href="./${href}">${label}</a>`)
    .replace(/\\([\\`*_[\]{}()#+!|~"])/g, '$1')
}

/** Cells of a table row: split on `|` not escaped by a backslash. */
export function tableCells (row: string): string[] {
  return row.split(/(?<!\\)\|/).slice(1, -1).map((c) => c.trim())
}

/** Markdown to a minimal HTML page. */
export function markdownToHtml (md: string): string {
  const out: string[] = ['<!doctype html><html><head><meta charset="utf-8"><style>body{font:14px sans-serif;margin:20px} td,th{border:1px solid #888;padding:2px 6px}</style></head><body>']
  const lines = md.split('\n')
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]
    const h = /^(#{1,6}) (.*)$/.exec(line)
    if (h != null) {
      out.push(`<h${h[1].length}>${inline(h[2])}</h${h[1].length}>`)
    } else if (line.startsWith('|')) {
      out.push('<table>')
      for (; i < lines.length && lines[i].startsWith('|'); i++) {
        if (/^\|( ?-+ ?\|)+$/.test(lines[i])) continue
        out.push(`<tr>${tableCells(lines[i]).map((c) => `<td>${inline(c)}</td>`).join('')}</tr>`)
      }
      out.push('</table>')
      i--
    } else if (line.trim() !== '') {
      out.push(`<p>${inline(line)}</p>`)
    }
  }
  out.push('</body></html>')
  return out.join('\n')
}

/** Screenshots a page with headless Chromium into `png`. */
export async function screenshot (page: string, png: string): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    execFile('chromium', ['--headless', '--no-sandbox', '--disable-gpu', '--hide-scrollbars', '--window-size=1000,1400', `--screenshot=${png}`, `file://${page}`], { timeout: 60_000 }, (err, _out, stderr) => {
      if (err != null) reject(new Error(`chromium failed: ${stderr}`))
      else resolve()
    })
  })
}

/**
 * Distinct byte values in a PNG's decompressed pixel rows: a blank page's
 * rows are a filter byte and one repeated value (a handful in all); text,
 * with its anti-aliased edges, gives dozens.
 */
export function distinctPixelBytes (png: string): number {
  const buf = readFileSync(png)
  const idat: Buffer[] = []
  for (let at = 8; at < buf.length;) {
    const len = buf.readUInt32BE(at)
    const type = buf.toString('latin1', at + 4, at + 8)
    if (type === 'IDAT') idat.push(buf.subarray(at + 8, at + 8 + len))
    at += 12 + len
  }
  return new Set(inflateSync(Buffer.concat(idat))).size
}
