import { readFile, rm, writeFile } from 'node:fs/promises'
import { basename, dirname, join } from 'node:path'

/**
 * Adds `/<name>` to the `.gitignore` beside a tracked path (as DVC does), so
 * git ignores the data and tracks only its pointer file. Idempotent.
 */
export async function ignoreInGit (abs: string): Promise<void> {
  const file = join(dirname(abs), '.gitignore')
  const entry = `/${basename(abs)}`
  let text = ''
  try {
    text = await readFile(file, 'utf8')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
  }
  if (text.split(/\r?\n/).some((line) => line.trim() === entry)) return
  await writeFile(file, text + (text === '' || text.endsWith('\n') ? '' : '\n') + entry + '\n')
}

/**
 * Removes the `/<name>` entry {@link ignoreInGit} wrote (`mlp remove`); a
 * `.gitignore` left empty is deleted. Other lines are kept as they were.
 */
export async function unignoreInGit (abs: string): Promise<void> {
  const file = join(dirname(abs), '.gitignore')
  const entry = `/${basename(abs)}`
  let text: string
  try {
    text = await readFile(file, 'utf8')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return
    throw err
  }
  const lines = text.split(/\r?\n/)
  const kept = lines.filter((line) => line.trim() !== entry)
  if (kept.length === lines.length) return
  const rest = kept.join('\n')
  if (rest.trim() === '') await rm(file, { force: true })
  else await writeFile(file, rest.endsWith('\n') ? rest : rest + '\n')
}
