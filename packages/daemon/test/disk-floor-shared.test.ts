import { describe, expect, it, vi } from 'vitest'

// A file system modelled in memory: free space shrinks by what the writers
// write, and statfs is slow (a loaded disk), so the checks of concurrent
// writers overlap as they do when a tree's files are written sixteen at once.
const MIB = 1024 * 1024
const disk = { free: 0, total: 100_000 * MIB }
vi.mock('node:fs/promises', async (original) => {
  const real = await original<typeof import('node:fs/promises')>()
  return {
    ...real,
    statfs: async () => {
      await new Promise((resolve) => setTimeout(resolve, 5))
      return { bsize: 1, bavail: disk.free, blocks: disk.total, files: 0, ffree: 0 }
    }
  }
})
const { DiskFloor } = await import('../src/store/disk-floor.js')
const FLOOR = 100 * MIB

/** `writers` write 1 MiB at a time through one floor until it refuses; returns the free space left above the floor. */
async function fill (floor: InstanceType<typeof DiskFloor>, writers: number, room: number): Promise<number> {
  disk.free = FLOOR + room
  let refused = false
  await Promise.all(Array.from({ length: writers }, async () => {
    for (let n = 0; n < 10_000 && !refused; n++) {
      try {
        await floor.reserve(MIB)
      } catch {
        refused = true
        return
      }
      disk.free -= MIB
    }
  }))
  expect(refused).toBe(true)
  return disk.free - FLOOR
}

describe('one DiskFloor shared by concurrent writers', () => {
  it('one writer stops at the floor (control)', async () => {
    process.env.MLP_FREE_FLOOR_BYTES = String(FLOOR)
    expect(await fill(new DiskFloor('/x', 'a tree', 'writing'), 1, 60 * MIB)).toBeGreaterThanOrEqual(0)
  })

  it('sixteen writers overrun it by no more than what they held when it refused', async () => {
    process.env.MLP_FREE_FLOOR_BYTES = String(FLOOR)
    expect(await fill(new DiskFloor('/x', 'a tree', 'writing'), 16, 60 * MIB)).toBeGreaterThanOrEqual(-16 * MIB)
  })

  it('overlapping checks do not clear the same bytes twice: after a burst of sixteen, one writer still stops at the floor', async () => {
    process.env.MLP_FREE_FLOOR_BYTES = String(FLOOR)
    disk.free = FLOOR + 60 * MIB
    const floor = new DiskFloor('/x', 'a tree', 'writing')
    await Promise.all(Array.from({ length: 16 }, async () => { await floor.reserve(MIB) }))
    disk.free -= 16 * MIB
    expect(await fill(floor, 1, disk.free - FLOOR)).toBeGreaterThanOrEqual(0)
  })
})
