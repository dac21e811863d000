import { readFile } from 'node:fs/promises'
import { ConfigError } from '@mlp/proto'

/** The header line every swarm key file starts with (the format IPFS private networks use). */
const HEADER = '/key/swarm/psk/1.0.0/'

/**
 * Reads a swarm key file (`/key/swarm/psk/1.0.0/`, `/base16/`, 64 hex
 * digits). Absent file: undefined, the daemon joins the open network.
 */
export async function loadSwarmKey (file: string, required: boolean): Promise<Uint8Array | undefined> {
  let text: string
  try {
    text = await readFile(file, 'utf8')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT' && !required) return undefined
    throw new ConfigError(`cannot read swarm key ${file}: ${(err as Error).message}`, { cause: err })
  }
  const lines = text.trim().split(/\r?\n/).map((l) => l.trim())
  if (lines[0] !== HEADER || lines[1] !== '/base16/' || !/^[0-9a-fA-F]{64}$/.test(lines[2] ?? '')) {
    throw new ConfigError(`${file} is not a swarm key: expected the lines '${HEADER}', '/base16/' and 64 hex digits`)
  }
  return new TextEncoder().encode(lines.slice(0, 3).join('\n') + '\n')
}
