import { describe, expect, it } from 'vitest'
import { formatFetch } from '../src/format.js'

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
