import { chmod, readFile, stat, writeFile, rename } from 'node:fs/promises'
import { generateKeyPair, privateKeyFromProtobuf, privateKeyToProtobuf } from '@libp2p/crypto/keys'
import type { PrivateKey } from '@libp2p/interface'
import { ConfigError } from '@mlp/proto'
import type { Logger } from './logger.js'

/**
 * Loads the daemon's Ed25519 key from `file`, creating it (mode 0600) on first
 * start, so the peer id survives restarts. A key readable by others is
 * tightened back to 0600 with a warning rather than refused: the machine's
 * owner already controls the file.
 */
export async function loadIdentity (file: string, log: Logger): Promise<PrivateKey> {
  let bytes: Uint8Array | undefined
  try {
    bytes = await readFile(file)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
  }
  if (bytes == null) {
    const key = await generateKeyPair('Ed25519')
    const tmp = `${file}.tmp`
    await writeFile(tmp, privateKeyToProtobuf(key), { mode: 0o600 })
    await rename(tmp, file)
    log.info('created identity', { file })
    return key
  }
  const mode = (await stat(file)).mode & 0o777
  if ((mode & 0o077) !== 0) {
    log.warn('identity key was readable by others; setting mode 0600', { file, mode: mode.toString(8) })
    await chmod(file, 0o600)
  }
  try {
    return privateKeyFromProtobuf(bytes)
  } catch (err) {
    throw new ConfigError(`identity key ${file} is corrupt: move it away to create a new identity (the peer id will change)`, { cause: err })
  }
}
