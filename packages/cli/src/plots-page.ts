import { randomBytes } from 'node:crypto'
import { mkdir, rename, rm, stat, writeFile } from 'node:fs/promises'
import { dirname, join, relative, resolve } from 'node:path'
import type { PlotsResult } from '@mlp/proto'

/**
 * Where `mlp plots` writes its page when no `-o` is given: DVC writes
 * `dvc_plots/index.html`, so mlp writes `mlp_plots/index.html`, in the
 * folder the command runs in.
 */
export const DEFAULT_PLOTS_OUT = join('mlp_plots', 'index.html')

/** What `mlp plots show|diff --json` prints: the answer less the page itself, plus where it went. */
export type PlotsOutput = Omit<PlotsResult, 'html'> & { output: string }

/** The file `-o` names: a path ending in `/` or naming a folder gets `index.html` inside it, as DVC's `-o <dir>` does. */
async function outputFile (out: string | undefined): Promise<string> {
  if (out == null) return resolve(DEFAULT_PLOTS_OUT)
  const isDir = out.endsWith('/') || await stat(out).then((s) => s.isDirectory(), () => false)
  return resolve(isDir ? join(out, 'index.html') : out)
}

/** Writes the page (under a temporary name, then renamed into place) and says what was drawn. */
export async function writePlotsPage (result: PlotsResult, out: string | undefined, log: (line: string) => void): Promise<PlotsOutput> {
  const file = await outputFile(out)
  await mkdir(dirname(file), { recursive: true })
  const tmp = `${file}.${randomBytes(4).toString('hex')}.tmp`
  try {
    await writeFile(tmp, result.html)
    await rename(tmp, file)
  } finally {
    await rm(tmp, { force: true })
  }
  const revs = result.revisions.map((r) => r.rev).join(', ')
  log(`${result.plots.length} plot${result.plots.length === 1 ? '' : 's'} at ${revs}: ${result.plots.map((p) => p.id).join(', ')}`)
  for (const s of result.skipped) log(`not drawn: ${s.id}: ${s.reason}`)
  for (const a of result.absent) log(`${a.rev} has no ${a.file}: left out of ${a.id}`)
  log(`wrote ${relative(process.cwd(), file) || file} (open file://${file})`)
  const { html, ...rest } = result
  return { ...rest, output: file }
}
