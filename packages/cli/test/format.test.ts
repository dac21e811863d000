import { describe, expect, it } from 'vitest'
import { formatFetch, printable, table } from '../src/format.js'

describe('the fetch progress line', () => {
  const root = 'bafyb4iabcdefghijklmnop'
  it('shows bytes, rate and peers before the root block says how big the DAG is', () => {
    const line = formatFetch({ root, bytes: 5e6, peers: 2, totalBytes: 0, presentBytes: 0 }, 0, 1000)
    expect(line).toMatch(/^fetching bafyb4iabcde\.\.\. 5\.0 MB {2}5\.0 MB\/s {2}2 peers$/)
  })

  it('counts blocks already stored as done but not toward the rate, and gives an ETA', () => {
    // 40 MB were here, 20 MB arrived in 1 s: 40 MB left at 20 MB/s
    const line = formatFetch({ root, bytes: 20e6, peers: 1, totalBytes: 100e6, presentBytes: 40e6 }, 0, 1000)
    expect(line).toMatch(/ 60% 60\.0 MB\/100\.0 MB {2}20\.0 MB\/s {2}ETA 2s {2}1 peer$/)
  })
})

describe('the fetch progress line, first moments and last', () => {
  const root = 'bafyb4iabcdefghijklmnop'
  it('gives no ETA from the first fraction of a second (one block is no rate)', () => {
    const early = formatFetch({ root, bytes: 262_144, peers: 1, totalBytes: 25e9, presentBytes: 0 }, 0, 50)
    expect(early).toContain('ETA ?')
    // control: a second later the same fetch has a real ETA
    const later = formatFetch({ root, bytes: 100e6, peers: 1, totalBytes: 25e9, presentBytes: 0 }, 0, 1000)
    // 24.9 GB left at 100 MB/s
    expect(later).toContain('ETA 4m 9s  1 peer')
  })

  it('is labelled by the path being pulled when there is one, and never ends with "0 peers"', () => {
    const pulled = formatFetch({ root, bytes: 5e6, peers: 1, totalBytes: 10e6, presentBytes: 0, path: 'data/train.bin' }, 0, 1000)
    expect(pulled).toMatch(/^fetching data\/train\.bin 50% /)
    const finished = formatFetch({ root, bytes: 10e6, peers: 0, totalBytes: 10e6, presentBytes: 0, path: 'data/train.bin' }, 0, 2000)
    expect(finished).not.toMatch(/peer/)
    expect(finished).toMatch(/100% 10\.0 MB\/10\.0 MB {2}5\.0 MB\/s {2}ETA \S+$/)
  })
})

describe('the table', () => {
  it('escapes control, invisible and bidi characters in every cell, so peer text cannot drive the terminal', () => {
    const E = '\x1b'
    const evil = `lr${E}[2K${E}[1G${E}]0;owned${E}\\${E}[31mDELETED${E}[0m`
    const out = table(['NAME', 'PARAMS'], [['x\u202eyz\u200b', evil], ['ok\u009b31m', 'a\tb\nc']])
    // nothing raw reaches the terminal: no ESC, no C1 CSI, no bidi override, no line break inside a row
    // eslint-disable-next-line no-control-regex
    expect(out).not.toMatch(/[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u200b\u202e]/u)
    expect(out.split('\n')).toHaveLength(3)
    expect(out).toContain('lr\\u001b[2K\\u001b[1G')
    expect(out).toContain('x\\u202eyz\\u200b')
    expect(out).toContain('ok\\u009b31m')
    expect(out).toContain('a\\u0009b\\u000ac')
    // positive control: ordinary text, accents and all, is left as it is and aligned
    expect(table(['NAME', 'METRICS'], [['lucky-otter', 'acc=0.9 café="ü"'], ['a', 'b']])).toBe('NAME         METRICS\nlucky-otter  acc=0.9 café="ü"\na            b')
    expect(printable('train.lr=0.2')).toBe('train.lr=0.2')
  })
})
