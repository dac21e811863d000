import { describe, expect, it } from 'vitest'
import { runStress } from '../scripts/lib/stress.js'

// A short run of `npm run stress` (20 iterations of each by default). It took 112-154 s here;
// the bound is generous because CI may run it on a busier machine (this checks correctness, not speed).
describe('kill -9 at random moments', () => {
  it('add, fetch, gc and repro: verify passes, nothing acknowledged is lost, work completes after restart', async () => {
    const results = await runStress(2, 20261127)
    for (const r of results) {
      expect(r, `${r.op}: ${r.errors.join('; ')}`).toMatchObject({ verifyFailures: 0, lostAcknowledged: 0, completedAfterRestart: 2 })
    }
    // the kills really landed mid-operation, and an interrupted fetch resumed
    expect(results.reduce((n, r) => n + r.killedMidway, 0)).toBeGreaterThan(3)
    expect(results.find((r) => r.op === 'fetch')?.resumed).toBeGreaterThan(0)
  }, 480_000)
})
