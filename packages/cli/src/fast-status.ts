import { existsSync } from 'node:fs'
import { homedir } from 'node:os'
import { join } from 'node:path'
import { AbortError, errorToJSON, resolveHome, type StatusResult } from '@mlp/proto'
import { ApiClient } from './client.js'
import { writeCommandError } from './one-line.js'
import { statusLines } from './status-lines.js'

/**
 * The targets of a `mlp status` command line (the words after `status`) plain
 * enough to answer without oclif, or undefined. Loading oclif is most of the
 * CLI's start-up (about 0.2 s of 0.3 s), and status is the command run most
 * often, by people and by editors and shell prompts. Plain: only targets
 * that do not start with `-`, and at most one `--json`; and nothing in the
 * environment that changes what oclif would print (its JSON colour theme,
 * `MLP_CONTENT_TYPE`, `MLP_CONFIG_DIR`, debug output). Anything else goes
 * through oclif as every other command does.
 */
export function plainStatusArgs (args: string[], env: NodeJS.ProcessEnv = process.env): { targets: string[], json: boolean } | undefined {
  const targets = args.filter((a) => a !== '--json')
  if (args.length - targets.length > 1) return undefined
  if (targets.some((a) => a === '' || a.startsWith('-'))) return undefined
  if (process.platform === 'win32' || env.MLP_CONTENT_TYPE != null || env.MLP_CONFIG_DIR != null || env.DEBUG != null || env.MLP_DEBUG != null) return undefined
  const configHome = env.XDG_CONFIG_HOME ?? join(env.HOME ?? homedir(), '.config')
  if (existsSync(join(configHome, 'mlp', 'theme.json'))) return undefined
  return { targets, json: targets.length < args.length }
}

/**
 * Runs `mlp status` with `args` (the words after `status`) as the oclif
 * command does, printing the same output and errors, when they are plain
 * ({@link plainStatusArgs}); false when they are not and oclif must run it.
 */
export async function fastStatus (args: string[]): Promise<boolean> {
  const plain = plainStatusArgs(args)
  if (plain == null) return false
  // Ctrl-C closes the request; the daemon then stops what it was doing for us
  const abort = new AbortController()
  const onSigint = (): void => { abort.abort() }
  process.once('SIGINT', onSigint)
  let r: StatusResult
  try {
    r = await new ApiClient(resolveHome()).call('status', { cwd: process.cwd(), targets: plain.targets }, { signal: abort.signal })
  } catch (caught) {
    const err = abort.signal.aborted ? new AbortError('interrupted: the daemon stopped the operation') : caught as Error
    writeCommandError(err, errorToJSON(err), { jsonEnabled: plain.json, usage: false, id: 'status' })
    return true
  } finally {
    process.off('SIGINT', onSigint)
  }
  if (plain.json) console.log(JSON.stringify(r, null, 2))
  else for (const line of statusLines(r)) console.log(line)
  return true
}
