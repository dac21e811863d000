import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import { describe, expect, it } from 'vitest'
import { deadline } from '../src/deadline.js'

// A full collection on demand: the deadlines must fire although nothing but
// the combined signal's listener refers to them (on Node 20 a combined
// AbortSignal.timeout was collected here and never fired: a DHT lookup hung).
setFlagsFromString('--expose-gc')
const gc = runInNewContext('gc') as () => void

/** Resolves with the abort reason's name, or 'none' if `signal` has not aborted after `waitMs`. */
async function outcome (signal: AbortSignal, waitMs: number): Promise<string> {
  return await new Promise((resolve) => {
    const t = setTimeout(() => { resolve('none') }, waitMs)
    signal.addEventListener('abort', () => { clearTimeout(t); resolve((signal.reason as Error).name) }, { once: true })
  })
}

describe('deadline', () => {
  it('fires after a garbage collection, alone and combined with a caller signal', async () => {
    const caller = new AbortController()
    const alone = outcome(deadline(100), 3000)
    const combined = outcome(deadline(100, caller.signal), 3000)
    for (let i = 0; i < 3; i++) { gc(); await new Promise((resolve) => setTimeout(resolve, 10)) }
    expect(await alone).toBe('TimeoutError')
    expect(await combined).toBe('TimeoutError')
  })

  it('follows the caller signal before the deadline, and does not fire early', async () => {
    const caller = new AbortController()
    const s = deadline(60_000, caller.signal)
    expect(await outcome(s, 50)).toBe('none')
    gc()
    caller.abort(new Error('client went away'))
    expect(s.aborted).toBe(true)
    expect((s.reason as Error).message).toBe('client went away')
  })
})
