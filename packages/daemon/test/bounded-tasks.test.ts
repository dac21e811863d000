import { describe, expect, it } from 'vitest'
import { BoundedTasks } from '../src/store/bounded-tasks.js'

/** A task that finishes when told to, recording how many tasks ran at its start. */
function gate (): { promise: Promise<void>, open: () => void, fail: (err: Error) => void } {
  let open!: () => void
  let fail!: (err: Error) => void
  const promise = new Promise<void>((resolve, reject) => { open = resolve; fail = reject })
  return { promise, open, fail }
}

describe('BoundedTasks', () => {
  it('runs at most `limit` at once, and every task runs', async () => {
    const tasks = new BoundedTasks(3)
    let now = 0
    let most = 0
    let done = 0
    for (let i = 0; i < 20; i++) {
      await tasks.run(async () => {
        now++
        most = Math.max(most, now)
        await new Promise((resolve) => setImmediate(resolve))
        now--
        done++
      })
    }
    await tasks.drain()
    expect(done).toBe(20)
    expect(most).toBe(3)
  })

  it('holds a task whose cost does not fit beside the running ones, but runs one alone whatever its cost', async () => {
    const tasks = new BoundedTasks(16, 10)
    const big = gate()
    const started: string[] = []
    await tasks.run(async () => { started.push('big'); await big.promise }, 100)
    const next = tasks.run(async () => { started.push('small') }, 1)
    await new Promise((resolve) => setImmediate(resolve))
    // the 100 over budget ran because nothing else did; the small one waits for it
    expect(started).toEqual(['big'])
    big.open()
    await next
    await tasks.drain()
    expect(started).toEqual(['big', 'small'])
  })

  it('after a failure starts nothing more, lets started tasks settle, and drain throws the first failure', async () => {
    const tasks = new BoundedTasks(2)
    const slow = gate()
    let slowDone = false
    await tasks.run(async () => { await slow.promise; slowDone = true })
    await tasks.run(async () => { throw new Error('first') })
    await new Promise((resolve) => setImmediate(resolve))
    let ran = false
    await expect(tasks.run(async () => { ran = true })).rejects.toThrow('first')
    expect(ran).toBe(false)
    const drained = tasks.drain()
    slow.open()
    await expect(drained).rejects.toThrow('first')
    // drain returned only after the task still running had finished
    expect(slowDone).toBe(true)
  })

  it('refuses a limit that is not a positive integer', () => {
    expect(() => new BoundedTasks(0)).toThrow(RangeError)
    expect(() => new BoundedTasks(1.5)).toThrow(RangeError)
  })
})
