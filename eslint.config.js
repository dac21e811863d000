import neostandard from 'neostandard'

export default [
  ...neostandard({ ts: true, ignores: ['**/dist/**', 'node_modules/**', 'coverage/**'] }),
  {
    files: ['**/*.ts'],
    rules: {
      'max-depth': ['error', 4],
      // `void promise` marks a deliberately detached task
      'no-void': ['error', { allowAsStatement: true }]
    }
  },
  {
    files: ['packages/daemon/src/**/*.ts', 'packages/proto/src/**/*.ts'],
    rules: {
      // the daemon logs to daemon.log; it never prints
      'no-console': 'error'
    }
  }
]
