import { defineConfig } from 'vitest/config'

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
          setupFiles: ['./test/setup.ts'],
          testTimeout: 60_000,
          hookTimeout: 60_000,
          // each file starts its own daemons; two cores, so keep files few at a time
          maxWorkers: 2,
          // after the unit project when both run at once
          sequence: { groupOrder: 1 }
        }
      }
    ]
  }
})
