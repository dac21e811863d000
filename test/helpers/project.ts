import { execFileSync } from 'node:child_process'
import { createHash, randomBytes } from 'node:crypto'
import { readFileSync, writeFileSync } from 'node:fs'
import { mkdtemp } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { mlpJson } from './cli.js'

/** A fresh git repository made an mlp project against the daemon of `home`. */
export async function newProject (home: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'mlp-proj-'))
  execFileSync('git', ['init', '-q'], { cwd: dir })
  await mlpJson(home, ['init'], { cwd: dir })
  return dir
}

/** sha256 of a file, to compare bytes after a round trip. */
export function sha256 (path: string): string {
  return createHash('sha256').update(readFileSync(path)).digest('hex')
}

/** Writes `size` random bytes (deterministic for a seed) to `path`. */
export function writeRandom (path: string, size: number): Buffer {
  const data = randomBytes(size)
  writeFileSync(path, data)
  return data
}
