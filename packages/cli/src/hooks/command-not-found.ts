import type { Hook } from '@oclif/core'
import { unknownCommandMessage } from '../suggest.js'

/**
 * `mlp stauts` or `mlp stage rm bad`: one line on stderr with the user's own
 * words and the closest command, exit code 2 (a usage error), and the
 * `{error}` document on stdout under `--json`, as every command fails.
 */
const hook: Hook<'command_not_found'> = async function (opts) {
  const words = opts.id.split(':').filter((w) => w !== '')
  const message = unknownCommandMessage(words, { commandIds: opts.config.commandIDs })
  if (opts.argv?.includes('--json') === true) process.stdout.write(JSON.stringify({ error: { name: 'UsageError', message } }) + '\n')
  process.stderr.write(`Error: ${message}\n`)
  process.exitCode = 2
}

export default hook
