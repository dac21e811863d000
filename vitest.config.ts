import { defineConfig } from 'vitest/config'

/** End-to-end files that load the machine on their own: 20 daemons fetching at once, kill -9 loops, 45,000 files in one folder. */
const HEAVY = ['test/load.test.ts', 'test/stress.test.ts', 'test/gc-crash.test.ts', 'test/big-dir.test.ts']

export default defineConfig({
  test: {
    globalSetup: ['./test/global-setup.ts'],
    projects: [
      {
        test: {
          name: 'unit',
          include: ['packages/*/test/**/*.test.ts'],
          setupFiles: ['./test/setup.ts'],
          sequence: { groupOrder: 0 }
        }
      },
      {
        test: {
          name: 'e2e',
          include: ['test/**/*.test.ts'],
          // the heavy ones run alone afterwards (below): beside them, every other file starves on two cores
          exclude: HEAVY,
          setupFiles: ['./test/setup.ts'],
          testTimeout: 60_000,
          hookTimeout: 60_000,
          // each file starts its own daemons; two cores, so keep files few at a time
          maxWorkers: 2,
          // after the unit project when both run at once
          sequence: { groupOrder: 1 }
        }
      },
      {
        test: {
          name: 'heavy',
          include: HEAVY,
          setupFiles: ['./test/setup.ts'],
          testTimeout: 60_000,
          hookTimeout: 120_000,
          // 20 daemons at once, or kill -9 loops: one file at a time, nothing beside it
          maxWorkers: 1,
          sequence: { groupOrder: 2 }
        }
      }
    ]
  }
})
