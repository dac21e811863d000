import { relative, resolve, sep } from 'node:path'
import { PlotError, type AbsentData, type PlotRevision, type RenderedPlot, type SkippedPlot } from '@mlp/proto'
import { loadProjectPipeline, type ProjectPipeline } from '../pipeline/project-pipeline.js'
import { resolveRevision } from '../pipeline/revision.js'
import { MAX_CONFUSION_CLASSES, MAX_PAGE_DATA_BYTES, MAX_PAGE_PLOTS, MAX_PAGE_POINTS, MAX_PLOT_POINTS, MAX_PLOT_SERIES, MAX_REVISIONS, WORKSPACE } from './constants.js'
import { parseData, dataFormat, type DataTable } from './data.js'
import { declaredPlots, plotFromOptions, type PlotDecl } from './declarations.js'
import { seriesPoints, yFieldOf, type SeriesTables } from './points.js'
import { SvgRenderer } from './render.js'
import { DataAbsentError, RevisionReader, type PlotsComponents, type ReadRevision } from './source.js'
import { vegaLiteSpec, type PlotPoint } from './templates.js'

/** A revision to draw: a git revision (`HEAD~1`, a branch, a commit) or {@link WORKSPACE}, with the legend label to show for it (default: as given). */
export type RevisionInput = string | { rev: string, label?: string, experiment?: ExperimentSource }

/** An experiment drawn as a revision: its base commit and its record's locks (see plots/experiments.ts). */
export interface ExperimentSource {
  base: string
  locks: Array<{ path: string, text: string }>
}

/** Options of {@link drawPlots}. */
export interface DrawOptions {
  /** Revisions to overlay, in legend order (default: the workspace alone). */
  revisions?: RevisionInput[]
  /** Plot ids or data files (relative to `cwd`); absent or empty: every declared plot. */
  targets?: string[]
  /** The folder targets are relative to (default: the project root). */
  cwd?: string
  signal?: AbortSignal
}

/** What {@link drawPlots} drew. */
export interface DrawnPlots {
  revisions: PlotRevision[]
  plots: RenderedPlot[]
  /** Declared plots not drawn (images). */
  skipped: SkippedPlot[]
  /** Data files some revision lacks: that revision is left out of that plot. */
  absent: AbsentData[]
}

async function resolveRevisions (root: string, inputs: RevisionInput[]): Promise<Array<ReadRevision & { label: string }>> {
  const out: Array<ReadRevision & { label: string }> = []
  for (const input of inputs) {
    const rev = typeof input === 'string' ? input : input.rev
    const label = typeof input === 'string' ? input : input.label ?? input.rev
    if (out.some((r) => r.label === label)) continue
    const experiment = typeof input === 'string' ? undefined : input.experiment
    if (experiment != null) {
      out.push({ rev, commit: experiment.base, label, locks: experiment.locks })
      continue
    }
    out.push(rev === WORKSPACE ? { rev, label } : { rev, commit: await resolveRevision(root, rev), label })
  }
  if (out.length === 0) throw new PlotError('no revision to draw')
  if (out.length > MAX_REVISIONS) throw new PlotError(`${out.length} revisions: mlp overlays at most ${MAX_REVISIONS} in one plot`)
  return out
}

/** The declared plots the targets name (all when none), plus a plot for each target that is an undeclared data file. */
function selectPlots (root: string, pipeline: ProjectPipeline | undefined, targets: string[], cwd: string): { plots: PlotDecl[], skipped: SkippedPlot[] } {
  const declared = pipeline == null ? { plots: [], skipped: [] } : declaredPlots(root, pipeline)
  if (targets.length === 0) return declared
  const chosen = new Map<string, PlotDecl>()
  for (const t of targets) {
    const rel = relative(root, resolve(cwd, t)).split(sep).join('/')
    const found = declared.plots.filter((p) => p.id === t || p.id === rel || p.id.startsWith(`${rel}/`) || p.series.some((s) => s.file === rel))
    for (const p of found) chosen.set(p.id, p)
    if (found.length > 0) continue
    if (!rel.startsWith('..') && dataFormat(rel) != null) {
      chosen.set(rel, plotFromOptions(rel, rel, {}, '', 'plots'))
      continue
    }
    const ids = declared.plots.map((p) => p.id)
    throw new PlotError(`no plot '${t}': ${ids.length === 0 ? 'the project declares none' : `the plots are ${ids.slice(0, 10).join(', ')}${ids.length > 10 ? ', ...' : ''}`} (a CSV, TSV, JSON or YAML file may be named too)`)
  }
  return { plots: [...chosen.values()], skipped: [] }
}

/** Axis title from the label given, else the fields drawn (`step`: the record number). */
function axisTitle (label: string | undefined, fields: Array<string | undefined>): string {
  return label ?? [...new Set(fields.map((f) => f ?? 'step'))].join(', ')
}

/** What drawing one page's plots shares: a reader per revision, the parsed files, the render thread and the page's point count. */
class Page {
  private readonly tables = new Map<string, Promise<DataTable>>()
  private points = 0
  private bytes = 0
  readonly absent: AbsentData[] = []

  constructor (readonly readers: RevisionReader[], readonly labels: string[], readonly renderer: SvgRenderer, readonly signal?: AbortSignal) {}

  /** A data file at a revision, parsed once however many plots read it. */
  async table (reader: RevisionReader, file: string, header: boolean): Promise<DataTable> {
    const key = JSON.stringify([reader.revision.rev, file, header])
    let t = this.tables.get(key)
    if (t == null) {
      t = reader.read(file).then((text) => {
        reader.forget(file)
        this.chargeBytes(text.length, `${file} at ${reader.revision.rev}`)
        return parseData(text, file, `${file} at ${reader.revision.rev}`, { header })
      })
      this.tables.set(key, t)
    }
    return await t
  }

  /**
   * Counts a file read against the page's {@link MAX_PAGE_DATA_BYTES}, before it is parsed:
   * one file is at most 16 MiB, so the page holds at most that much more text than the cap.
   */
  private chargeBytes (bytes: number, what: string): void {
    this.bytes += bytes
    const mib = (n: number): string => `${Math.round(n / 1024 / 1024)} MiB`
    if (this.bytes > MAX_PAGE_DATA_BYTES) throw new PlotError(`${what}: the plots read over ${mib(MAX_PAGE_DATA_BYTES)} of data files together: name fewer plots or revisions (\`mlp plots show <plot>\`)`)
  }

  /** Counts records about to be drawn against the page's cap and the plot's. */
  charge (plot: PlotDecl, inPlot: number, records: number): void {
    this.points += records
    if (inPlot + records > MAX_PLOT_POINTS) throw new PlotError(`${plot.where}: over ${MAX_PLOT_POINTS} data points: mlp draws at most that many in one plot (thin the log, or plot fewer revisions)`)
    if (this.points > MAX_PAGE_POINTS) throw new PlotError(`${plot.where}: the plots hold over ${MAX_PAGE_POINTS} data points together: name fewer plots (\`mlp plots show <plot>\`)`)
  }

  /** Notes a data file a revision lacks (and answers undefined), or rethrows any other error. */
  private absentOr (err: unknown, absent: DataAbsentError[], plot: PlotDecl, rev: string, file: string): undefined {
    if (!(err instanceof DataAbsentError)) throw err
    absent.push(err)
    this.absent.push({ id: plot.id, rev, file })
    return undefined
  }

  /** One plot: every series at every revision, drawn as one SVG. */
  async draw (plot: PlotDecl): Promise<RenderedPlot> {
    this.signal?.throwIfAborted()
    const points: PlotPoint[] = []
    const yFields: string[] = []
    const series: string[] = []
    const files = new Set(plot.series.map((r) => r.file))
    const absent: DataAbsentError[] = []
    for (const [i, reader] of this.readers.entries()) {
      const rev = this.labels[i]
      for (const ref of plot.series) {
        const xFile = ref.x != null && ref.x.file !== ref.file ? ref.x.file : undefined
        const table = await this.table(reader, ref.file, plot.header).catch((err) => this.absentOr(err, absent, plot, rev, ref.file))
        const xTable = xFile == null ? undefined : await this.table(reader, xFile, plot.header).catch((err) => this.absentOr(err, absent, plot, rev, xFile))
        // a file this revision lacks: the series is left out, and the page says so
        if (table == null || (xFile != null && xTable == null)) continue
        const s: SeriesTables = { ref, table, xTable }
        this.charge(plot, points.length, s.table.rows.length)
        const yField = yFieldOf(ref, s.table)
        yFields.push(yField)
        // the legend names the revision, and the file and field when the plot has several
        const parts = [...(this.readers.length > 1 ? [rev] : []), ...(plot.series.length > 1 ? [files.size > 1 ? `${ref.file}: ${yField}` : yField] : [])]
        const label = parts.length === 0 ? rev : parts.join(' · ')
        if (!series.includes(label)) series.push(label)
        if (series.length > MAX_PLOT_SERIES) throw new PlotError(`${plot.where}: over ${MAX_PLOT_SERIES} series (every revision together): mlp overlays at most that many in one plot`)
        points.push(...seriesPoints(plot, s, rev, label, plot.where))
      }
    }
    // drawn from no revision at all: there is nothing to show, say why
    if (series.length === 0 && absent.length > 0) throw absent[0]
    if (plot.template.startsWith('confusion')) {
      // every class is a row and a column of cells: drawing 1,500 took 93 s and 2.2 GB
      const classes = Math.max(new Set(points.map((p) => p.x)).size, new Set(points.map((p) => p.y)).size)
      if (classes > MAX_CONFUSION_CLASSES) throw new PlotError(`${plot.where}: ${classes} classes: mlp draws a confusion matrix of at most ${MAX_CONFUSION_CLASSES}`)
    }
    const spec = vegaLiteSpec({
      template: plot.template,
      title: plot.title,
      xTitle: axisTitle(plot.xLabel, plot.series.map((s) => s.x?.field)),
      yTitle: axisTitle(plot.yLabel, yFields),
      points,
      revs: this.labels,
      series
    })
    return { id: plot.id, title: plot.title, template: plot.template, svg: await this.renderer.svg(spec, plot.where) }
  }
}

/**
 * Draws the project's plots at the given revisions, each as a standalone
 * SVG, on a worker thread; see `renderPlots` (index.ts) for the contract.
 * Nothing is written.
 */
export async function drawPlots (c: PlotsComponents, root: string, options: DrawOptions = {}): Promise<DrawnPlots> {
  const pipeline = loadProjectPipeline(root)
  const { plots, skipped } = selectPlots(root, pipeline, options.targets ?? [], options.cwd ?? root)
  const revisions = await resolveRevisions(root, options.revisions ?? [WORKSPACE])
  const readers = revisions.map((r) => new RevisionReader(c, root, pipeline, r, options.signal))
  const shown = revisions.map(({ rev, commit }) => commit == null ? { rev } : { rev, commit })
  if (plots.length === 0) return { revisions: shown, plots: [], skipped, absent: [] }
  if (plots.length > MAX_PAGE_PLOTS) throw new PlotError(`${plots.length} plots: mlp draws at most ${MAX_PAGE_PLOTS} on one page: name the ones to draw (\`mlp plots show <plot>...\`)`)
  const renderer = new SvgRenderer(options.signal)
  try {
    const page = new Page(readers, revisions.map((r) => r.label), renderer, options.signal)
    const drawn: RenderedPlot[] = []
    for (const plot of plots) drawn.push(await page.draw(plot))
    return { revisions: shown, plots: drawn, skipped, absent: page.absent }
  } finally {
    await renderer.close()
  }
}
