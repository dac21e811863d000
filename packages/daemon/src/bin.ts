#!/usr/bin/env node
import '@mlp/proto/polyfill'
import { parseDaemonArgs } from './args.js'
import { resolveHome } from './home.js'
import { runDaemon } from './run.js'

// The background daemon process started by `mlp daemon start`. Its stdout is
// detached and stderr goes to MLP_HOME/daemon.log. Once shutdown is done the
// process exits at once: libp2p leaves timers that would keep it up for seconds.
// What reaches stderr is written as the logger writes, one JSON object per
// line, so that daemon.log stays parseable even for a crash.
const fatal = (msg: string, err: unknown): void => {
  process.stderr.write(JSON.stringify({ time: new Date().toISOString(), level: 'error', msg, error: (err as Error)?.message ?? String(err), stack: (err as Error)?.stack }) + '\n')
}
process.on('uncaughtException', (err) => {
  fatal('daemon crashed', err)
  process.exit(1)
})
let code = 1
try {
  code = await runDaemon({ home: resolveHome(), overrides: parseDaemonArgs(process.argv.slice(2)) })
} catch (err) {
  fatal('daemon failed to start', err)
}
process.exit(code)
