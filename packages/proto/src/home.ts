import { homedir } from 'node:os'
import { join, resolve } from 'node:path'

/**
 * `MLP_HOME`, or `~/.mlp` when unset. Here rather than in the daemon so the
 * CLI finds the socket without loading the daemon's dependencies (libp2p,
 * LevelDB): that import alone was most of the CLI's start-up time.
 */
export function resolveHome (env: NodeJS.ProcessEnv = process.env): string {
  const fromEnv = env.MLP_HOME
  return resolve(fromEnv != null && fromEnv !== '' ? fromEnv : join(homedir(), '.mlp'))
}
