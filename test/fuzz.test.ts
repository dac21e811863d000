import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { fuzzApi, fuzzWire } from '../scripts/lib/fuzz.js'
import { fuzzDagDecoder, fuzzPathRules } from '../scripts/lib/fuzz-dag.js'
import { alive, mlpJson, tempDir } from './helpers/cli.js'
import { DaemonPool } from './helpers/daemons.js'

// A seeded, smaller run of `npm run fuzz` (which does 100,000 of each).
const pool = new DaemonPool()
afterAll(async () => { await pool.cleanup() })

describe('fuzzing', () => {
  it('wire decoders: 20,000 generated frames give messages or WireError, nothing else', () => {
    const r = fuzzWire(20_000, 1234)
    expect(r.failures).toEqual([])
    expect(r.rejected).toBeGreaterThan(10_000)
    expect(r.decoded).toBeGreaterThan(1000)
  })

  it('DAG decoder: 20,000 hostile directory nodes decode to safe names or throw InvalidDagError', () => {
    const r = fuzzDagDecoder(20_000, 1234)
    expect(r.failures).toEqual([])
    expect(r.rejected).toBeGreaterThan(5000)
    expect(r.accepted).toBeGreaterThan(1000)
  })

  it('path rules: 20,000 random names and paths; every accepted one stays inside its destination and is not .git', () => {
    const r = fuzzPathRules(20_000, 1234)
    expect(r.failures).toEqual([])
    expect(r.rejected).toBeGreaterThan(5000)
    expect(r.accepted).toBeGreaterThan(1000)
  })

  it('local API: 2,000 generated requests give results or typed errors; the daemon stays up', async () => {
    const d = await pool.start()
    const r = await fuzzApi(join(d.home, 'api.sock'), await tempDir(), 2000, 1234)
    expect(r.failures).toEqual([])
    expect(r.errors.InternalError).toBeUndefined()
    expect(r.errors.BadRequestError).toBeGreaterThan(100)
    expect(alive(d.pid)).toBe(true)
    expect((await mlpJson(d.home, ['id'])).peerId).toBe(d.peerId)
  })
})
