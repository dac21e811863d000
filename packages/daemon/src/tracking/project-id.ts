import { randomBytes } from 'node:crypto'
import { lstatSync, readFileSync } from 'node:fs'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { isMap, parseDocument } from 'yaml'
import { ProjectIdMissingError } from '@mlp/proto'

/** The key of `.mlp/config.yaml` holding the project's random id. */
export const PROJECT_ID_KEY = 'project_id'

/** What a project id looks like: 128 random bits in hex. */
export const PROJECT_ID_PATTERN = /^[0-9a-f]{32}$/

/** A config file bigger than this is not a project config (it is read whole). */
const MAX_CONFIG_BYTES = 64 * 1024

function configFile (root: string): string {
  return join(root, '.mlp', 'config.yaml')
}

/** The text of `.mlp/config.yaml` (a regular file only: it is committed, so anyone could make it a symlink), or undefined. */
function readConfigText (root: string): string | undefined {
  const file = configFile(root)
  try {
    const st = lstatSync(file)
    if (!st.isFile() || st.size > MAX_CONFIG_BYTES) return undefined
    return readFileSync(file, 'utf8')
  } catch {
    return undefined
  }
}

/** The project's id from `.mlp/config.yaml`, or undefined when it has none (an older `mlp init`). */
export function findProjectId (root: string): string | undefined {
  const text = readConfigText(root)
  if (text == null) return undefined
  const doc = parseDocument(text)
  if (doc.errors.length > 0 || !isMap(doc.contents)) return undefined
  const id = doc.get(PROJECT_ID_KEY)
  return typeof id === 'string' && PROJECT_ID_PATTERN.test(id) ? id : undefined
}

/** The project's id; a project without one gets an error naming the command that adds it. */
export function requireProjectId (root: string): string {
  const id = findProjectId(root)
  if (id == null) throw new ProjectIdMissingError(`${root} has no project id in .mlp/config.yaml (initialised by an older mlp): run \`mlp init\` to add one, then commit .mlp/config.yaml`)
  return id
}

/**
 * Gives the project a random id in `.mlp/config.yaml` unless it has one,
 * keeping what else the file says. Random, not the root commit: unrelated
 * clones of one template share their root commit but are not one project.
 * Returns whether it wrote one.
 */
export async function ensureProjectId (root: string): Promise<boolean> {
  if (findProjectId(root) != null) return false
  const text = readConfigText(root) ?? '# project settings for mlp (committed to git)\n'
  const doc = parseDocument(text)
  const id = randomBytes(16).toString('hex')
  if (doc.errors.length > 0 || !(isMap(doc.contents) || doc.contents == null)) {
    throw new ProjectIdMissingError(`${configFile(root)} is not a YAML mapping: fix it, then run \`mlp init\` again to add a project id`)
  }
  let body: string
  if (doc.contents == null) {
    // only comments so far (what `mlp init` writes): keep them, add the key below
    const comment = text.trimEnd()
    body = `${comment === '' ? '' : `${comment}\n`}${PROJECT_ID_KEY}: ${id}\n`
  } else {
    doc.set(PROJECT_ID_KEY, id)
    body = doc.toString()
  }
  await writeFile(configFile(root), body)
  return true
}
