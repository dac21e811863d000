import { execFile } from 'node:child_process'
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { parse } from 'yaml'
import { PipelineError } from './errors.js'
import { checkTextSize, MAX_PIPELINE_FILE_BYTES, readPipelineText } from './file-size.js'

/** Flattens nested values to dotted keys (`train.lr`); lists keep their index (`layers.0`). */
export function flatten (value: unknown, prefix = '', out: Record<string, unknown> = {}): Record<string, unknown> {
  if (value != null && typeof value === 'object') {
    for (const [k, v] of Object.entries(value as Record<string, unknown>)) flatten(v, prefix === '' ? k : `${prefix}.${k}`, out)
  } else if (prefix !== '') {
    out[prefix] = value
  }
  return out
}

function parseValues (text: string, file: string): unknown {
  checkTextSize(text, file)
  try {
    return file.endsWith('.json') ? JSON.parse(text) : parse(text)
  } catch (err) {
    throw new PipelineError(`${file}: cannot parse: ${(err as Error).message.split('\n')[0]}`)
  }
}

/** A JSON/YAML file's values in the workspace, flattened; absent file: undefined. */
export function workspaceValues (root: string, file: string): Record<string, unknown> | undefined {
  const abs = join(root, file)
  if (!existsSync(abs)) return undefined
  return flatten(parseValues(readPipelineText(abs, root), file))
}

/**
 * A file's text at a git revision (`git show rev:file`); absent there:
 * undefined. Over `MAX_PIPELINE_FILE_BYTES` it is refused, not read.
 */
export async function gitShow (root: string, file: string, rev: string): Promise<string | undefined> {
  return await new Promise<string | undefined>((resolve, reject) => {
    execFile('git', ['show', `${rev}:${file}`], { cwd: root, maxBuffer: MAX_PIPELINE_FILE_BYTES + 1 }, (err, stdout) => {
      // an oversized file is refused, never mistaken for an absent one
      if ((err as { code?: string } | null)?.code === 'ERR_CHILD_PROCESS_STDIO_MAXBUFFER') reject(new PipelineError(`${file} at ${rev}: over the ${MAX_PIPELINE_FILE_BYTES / 1024 / 1024} MiB mlp reads in a pipeline, params or lock file`))
      else resolve(err == null ? stdout : undefined)
    })
  })
}

/**
 * The same file at a git revision, flattened. Outputs are not in git: for
 * them `fallback` reads the version that revision's lock file names.
 */
export async function revisionValues (root: string, file: string, rev: string, fallback?: () => Promise<string | undefined>): Promise<Record<string, unknown> | undefined> {
  const text = (await gitShow(root, file, rev)) ?? await fallback?.()
  return text == null ? undefined : flatten(parseValues(text, file))
}

/** Keys whose values differ between two flattened files. */
export function diffValues (file: string, old: Record<string, unknown> | undefined, now: Record<string, unknown> | undefined): Array<{ file: string, key: string, old: unknown, new: unknown }> {
  const keys = new Set([...Object.keys(old ?? {}), ...Object.keys(now ?? {})])
  return [...keys].sort().filter((k) => JSON.stringify(old?.[k]) !== JSON.stringify(now?.[k])).map((k) => ({ file, key: k, old: old?.[k] ?? null, new: now?.[k] ?? null }))
}
