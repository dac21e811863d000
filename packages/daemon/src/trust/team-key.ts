import { randomBytes } from 'node:crypto'
import { mkdir, rename, rm, writeFile } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import { TeamKeyError } from '@mlp/proto'
import { loadConfig } from '../config.js'
import { homePaths } from '../home.js'
import { loadSwarmKey } from '../net/swarm-key.js'

/** What a team line starts with; the version lets the encoding change later. */
export const TEAM_LINE_PREFIX = 'mlp-team:v1:'

/** The one line a teammate pastes into `mlp team join`: the swarm key, in hex. */
export function encodeTeamLine (keyHex: string): string {
  return `${TEAM_LINE_PREFIX}${keyHex.toLowerCase()}`
}

/** The key (64 hex digits) in a team line, or a {@link TeamKeyError} saying what is wrong. */
export function parseTeamLine (line: string): string {
  const text = line.trim()
  if (!text.startsWith(TEAM_LINE_PREFIX)) throw new TeamKeyError(`not a team line: it must start with '${TEAM_LINE_PREFIX}' (copy the whole line \`mlp team create\` printed)`)
  const hex = text.slice(TEAM_LINE_PREFIX.length)
  if (!/^[0-9a-fA-F]{64}$/.test(hex)) throw new TeamKeyError(`not a team line: '${TEAM_LINE_PREFIX}' must be followed by 64 hex digits, found ${hex.length} characters (was the line cut?)`)
  return hex.toLowerCase()
}

/** Where this home's swarm key lives: `swarmKey:` in config.yaml, else `MLP_HOME/swarm.key`. */
export async function swarmKeyPath (home: string): Promise<string> {
  const config = await loadConfig(homePaths(home).config)
  return config.swarmKey != null ? resolve(home, config.swarmKey) : join(home, 'swarm.key')
}

/** The hex key in the swarm key file, or undefined when there is none. */
async function currentKey (file: string): Promise<string | undefined> {
  const key = await loadSwarmKey(file, false)
  return key == null ? undefined : new TextDecoder().decode(key).split('\n')[2].toLowerCase()
}

/** Writes a swarm key file (mode 0600) through a temporary file and a rename. */
async function writeSwarmKey (file: string, hex: string): Promise<void> {
  await mkdir(resolve(file, '..'), { recursive: true, mode: 0o700 })
  const tmp = `${file}.${randomBytes(4).toString('hex')}.tmp`
  try {
    await writeFile(tmp, `/key/swarm/psk/1.0.0/\n/base16/\n${hex}\n`, { mode: 0o600, flush: true })
    await rename(tmp, file)
  } catch (err) {
    await rm(tmp, { force: true })
    throw err
  }
}

/** What `mlp team create` and `mlp team join` did. */
export interface TeamKeyResult {
  /** The line teammates paste into `mlp team join`. */
  line: string
  /** The swarm key file. */
  file: string
  /** False when the key was already in place (nothing written). */
  written: boolean
}

/**
 * `mlp team create`: a new random swarm key for this home. Where a key is
 * already in place it is kept and its line returned (to invite one more
 * teammate), unless `force` replaces it.
 */
export async function createTeamKey (home: string, options: { force?: boolean } = {}): Promise<TeamKeyResult> {
  const file = await swarmKeyPath(home)
  // with force, even an unreadable key file is replaced
  const existing = options.force === true ? undefined : await currentKey(file)
  if (existing != null) return { line: encodeTeamLine(existing), file, written: false }
  const hex = randomBytes(32).toString('hex')
  await writeSwarmKey(file, hex)
  return { line: encodeTeamLine(hex), file, written: true }
}

/**
 * `mlp team join <line>`: writes the team's swarm key. A different key
 * already in place is replaced only with `force` (this machine would leave
 * its current team).
 */
export async function joinTeam (home: string, line: string, options: { force?: boolean } = {}): Promise<TeamKeyResult> {
  const hex = parseTeamLine(line)
  const file = await swarmKeyPath(home)
  const existing = options.force === true ? undefined : await currentKey(file)
  if (existing === hex) return { line: encodeTeamLine(hex), file, written: false }
  if (existing != null) {
    throw new TeamKeyError(`${file} already holds a different swarm key (another team): \`mlp team join --force <line>\` replaces it, and this machine leaves that team`)
  }
  await writeSwarmKey(file, hex)
  return { line: encodeTeamLine(hex), file, written: true }
}
