import { execFileSync } from 'node:child_process'
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

/** `${expr}` as a pipeline file writes it (kept out of template literals). */
export const $ = (expr: string): string => '$' + `{${expr}}`

/** A project folder (a `.mlp` marker) holding `files`. */
export async function project (files: Record<string, string>): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'mlp-pipeline-'))
  await mkdir(join(dir, '.mlp'))
  for (const [name, text] of Object.entries(files)) {
    await mkdir(join(dir, name, '..'), { recursive: true })
    await writeFile(join(dir, name), text)
  }
  return dir
}

/** Runs git in `dir` with a fixed identity, output discarded. */
export function git (dir: string, ...args: string[]): void {
  execFileSync('git', ['-c', 'user.email=t@example.com', '-c', 'user.name=t', ...args], { cwd: dir, stdio: 'ignore' })
}
