import { execFileSync, spawn } from 'node:child_process'
import { createHash, randomBytes } from 'node:crypto'
import { readFileSync, writeFileSync } from 'node:fs'
import { MLP_BIN, mlpJson, tempDir } from './cli.js'

/** A fresh git repository made an mlp project against the daemon of `home`. */
export async function newProject (home: string): Promise<string> {
  const dir = await tempDir('mlp-proj-')
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

/** sha256 of what `mlp cat <cid>` prints, streamed: no copy lands on disk. */
export async function catSha256 (home: string, cid: string): Promise<string> {
  const child = spawn(process.execPath, [MLP_BIN, 'cat', cid], { env: { ...process.env, NODE_ENV: undefined, MLP_HOME: home }, stdio: ['ignore', 'pipe', 'pipe'] })
  const hash = createHash('sha256')
  let stderr = ''
  child.stdout.on('data', (b: Buffer) => hash.update(b))
  child.stderr.on('data', (b: Buffer) => { stderr += b.toString() })
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve))
  if (code !== 0) throw new Error(`mlp cat ${cid} failed (${code}): ${stderr}`)
  return hash.digest('hex')
}
