import { readFile, writeFile } from 'node:fs/promises'
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
