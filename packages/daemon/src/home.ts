import { chmod, mkdir, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { API_SOCKET, ConfigError, resolveHome } from '@mlp/proto'

/** Every path the daemon keeps inside `MLP_HOME`. */
export interface HomePaths {
  home: string
  socket: string
  pidFile: string
  logFile: string
  config: string
  identity: string
  peers: string
  /** The block store: LevelDB index and pack files. */
  store: string
}

export { resolveHome }

/** The files of one daemon's home. */
export function homePaths (home: string): HomePaths {
  return {
    home,
    socket: join(home, API_SOCKET),
    pidFile: join(home, 'daemon.pid'),
    logFile: join(home, 'daemon.log'),
    config: join(home, 'config.yaml'),
    identity: join(home, 'identity.key'),
    peers: join(home, 'peers.json'),
    store: join(home, 'store')
  }
}

/** What {@link secureHome} found and did. */
export interface HomeCheck {
  /** The mode MLP_HOME had when it was tightened to 0700; undefined if it was already private. */
  tightenedFrom?: number
}

/**
 * Creates `home` (0700) or makes an existing one private to its owner. It
 * holds the identity key, the API socket and the store: a directory others
 * can write lets them replace any of them. Group or other permission bits
 * are cleared and the caller logs it (as the identity key's mode is
 * tightened): the owner is running the daemon, so nothing is gained by
 * refusing. It is refused, as ssh refuses, when it cannot be made private
 * by this user alone: owned by someone else, not a directory, or a shared
 * sticky directory like /tmp (tightening that would break the machine). A
 * symlink is followed: the directory it names is what is checked.
 */
export async function secureHome (home: string): Promise<HomeCheck> {
  await mkdir(home, { recursive: true, mode: 0o700 })
  // a symlinked home (the store on another disk) is the user's own choice: the directory it names is checked
  const st = await stat(home)
  if (!st.isDirectory()) throw new ConfigError(`MLP_HOME ${home} is not a directory: point MLP_HOME at a directory of your own`)
  const uid = process.getuid?.()
  if (uid != null && st.uid !== uid) throw new ConfigError(`MLP_HOME ${home} belongs to user ${st.uid}, not to you (${uid}): its files (identity key, socket, store) must be yours alone`)
  if ((st.mode & 0o1000) !== 0) throw new ConfigError(`MLP_HOME ${home} is a shared directory (sticky bit, like /tmp): use a directory of its own`)
  const mode = st.mode & 0o777
  if ((mode & 0o077) === 0) return {}
  await chmod(home, 0o700)
  return { tightenedFrom: mode }
}
