import { join } from 'node:path'
import { API_SOCKET, resolveHome } from '@mlp/proto'

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
