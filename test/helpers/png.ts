import { readFileSync } from 'node:fs'
import { inflateSync } from 'node:zlib'

/** What a screenshot shows, counted: enough to tell a drawn page from a blank one. */
export interface PixelCounts {
  width: number
  height: number
  /** Pixels that are not white (any channel under 240). */
  nonWhite: number
  /** Pixels with a colour, not a grey (channels differing by over 60): lines, bars, matrix cells. */
  coloured: number
}

function paeth (a: number, b: number, c: number): number {
  const p = a + b - c
  const pa = Math.abs(p - a)
  const pb = Math.abs(p - b)
  const pc = Math.abs(p - c)
  return pa <= pb && pa <= pc ? a : pb <= pc ? b : c
}

/**
 * Counts the pixels of an 8-bit RGB or RGBA, non-interlaced PNG (what
 * Chromium's `--screenshot` writes), decoded with node's zlib: no image
 * library needed.
 */
export function countPixels (file: string): PixelCounts {
  const png = readFileSync(file)
  if (png.subarray(1, 4).toString('latin1') !== 'PNG') throw new Error(`${file}: not a PNG`)
  let width = 0
  let height = 0
  let channels = 0
  const idat: Buffer[] = []
  for (let at = 8; at < png.length;) {
    const length = png.readUInt32BE(at)
    const type = png.subarray(at + 4, at + 8).toString('latin1')
    const data = png.subarray(at + 8, at + 8 + length)
    if (type === 'IHDR') {
      width = data.readUInt32BE(0)
      height = data.readUInt32BE(4)
      const [depth, colour, , , interlace] = [data[8], data[9], data[10], data[11], data[12]]
      if (depth !== 8 || (colour !== 2 && colour !== 6) || interlace !== 0) throw new Error(`${file}: an 8-bit RGB(A) non-interlaced PNG was expected`)
      channels = colour === 6 ? 4 : 3
    } else if (type === 'IDAT') {
      idat.push(data)
    } else if (type === 'IEND') {
      break
    }
    at += 12 + length
  }
  const raw = inflateSync(Buffer.concat(idat))
  const stride = width * channels
  let prev = Buffer.alloc(stride)
  const counts: PixelCounts = { width, height, nonWhite: 0, coloured: 0 }
  for (let y = 0; y < height; y++) {
    const filter = raw[y * (stride + 1)]
    const line = Buffer.from(raw.subarray(y * (stride + 1) + 1, (y + 1) * (stride + 1)))
    for (let i = 0; i < stride; i++) {
      const left = i >= channels ? line[i - channels] : 0
      const up = prev[i]
      const upLeft = i >= channels ? prev[i - channels] : 0
      const add = filter === 1 ? left : filter === 2 ? up : filter === 3 ? (left + up) >> 1 : filter === 4 ? paeth(left, up, upLeft) : 0
      line[i] = (line[i] + add) & 0xff
    }
    for (let x = 0; x < width; x++) {
      const [r, g, b] = [line[x * channels], line[x * channels + 1], line[x * channels + 2]]
      if (r < 240 || g < 240 || b < 240) counts.nonWhite++
      if (Math.max(r, g, b) - Math.min(r, g, b) > 60) counts.coloured++
    }
    prev = line
  }
  return counts
}
