import { randomBytes } from 'node:crypto'
import { lstat, mkdir, rename, rm, stat, writeFile } from 'node:fs/promises'
import { dirname, join, relative, resolve } from 'node:path'
import { PlotError, type PlotsResult } from '@mlp/proto'

/**
 * Where `mlp plots` writes its page when no `-o` is given: DVC writes
 * `dvc_plots/index.html`, so mlp writes `mlp_plots/index.html`, in the
 * folder the command runs in.
 */
export const DEFAULT_PLOTS_OUT = join('mlp_plots', 'index.html')

/** What `mlp plots show|diff --json` prints: the answer less the page itself, plus where it went. */
export type PlotsOutput = Omit<PlotsResult, 'html'> & { output: string }

/**
 * The default page, `mlp_plots/index.html` in the folder the command runs
 * in. A cloned project can hold a committed `mlp_plots` symlink: mkdir and
 * rename would follow it and write wherever it points, so the default is
 * written only into a real folder (or one made here). An explicit `-o` is
 * the user's own choice and is followed.
 */
async function defaultOutputFile (): Promise<string> {
  const dir = dirname(resolve(DEFAULT_PLOTS_OUT))
  const st = await lstat(dir).catch((err: NodeJS.ErrnoException) => { if (err.code === 'ENOENT') return undefined; throw err })
  if (st?.isSymbolicLink() === true) throw new PlotError(`${relative(process.cwd(), dir)} is a symlink: mlp writes its default page only into a real folder (remove it, or name the page with -o)`)
  if (st != null && !st.isDirectory()) throw new PlotError(`${relative(process.cwd(), dir)} is not a folder: remove it, or name the page with -o`)
  return resolve(DEFAULT_PLOTS_OUT)
}

/** The file `-o` names: a path ending in `/` or naming a folder gets `index.html` inside it, as DVC's `-o <dir>` does. */
async function outputFile (out: string | undefined): Promise<string> {
  if (out == null) return await defaultOutputFile()
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
