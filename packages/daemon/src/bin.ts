#!/usr/bin/env node
import '@mlp/proto/polyfill'
import { parseDaemonArgs } from './args.js'
import { resolveHome } from './home.js'
import { runDaemon } from './run.js'

// The background daemon process started by `mlp daemon start`. Its stdout is
// detached and stderr goes to MLP_HOME/daemon.log. Once shutdown is done the
// process exits at once: libp2p leaves timers that would keep it up for seconds.
let code = 1
try {
  code = await runDaemon({ home: resolveHome(), overrides: parseDaemonArgs(process.argv.slice(2)) })
} catch (err) {
  process.stderr.write(`mlp daemon: ${(err as Error).message}\n`)
}
process.exit(code)
