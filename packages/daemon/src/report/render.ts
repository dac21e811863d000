import { formatBytes as bytes, type DiffEntry, type DiffResult, type ReportBase, type ReportPlot, type ValueDiff } from '@mlp/proto'
import { experimentsSection, type BranchExperiments } from './experiments.js'
import { fileLink, table, text, value } from './markdown.js'

/** Paths listed per kind of change; the rest are counted. */
export const REPORT_PATHS_PER_KIND = 20

/** A stage of the head's lock: where it ran and whether it ran again since the base. */
export interface StageRow {
  stage: string
  ranOn?: string
  state: 'new' | 'reran' | 'unchanged'
  /** Wall seconds of its run, from mlp.lock's `duration_s`; absent for a lock written before mlp recorded it, or a restored stage. */
  duration?: number
  /** The peer whose run cache gave its outs, when it was restored instead of run. */
  restoredFrom?: string
}

/** Everything a report shows. */
export interface ReportInput {
  branch: string
  head?: string
  base: ReportBase
  diff: DiffResult
  params: ValueDiff[]
  metrics: ValueDiff[]
  /** By metrics file ('' for any file): metric key → which way is better. */
  directions: Map<string, Record<string, 'higher' | 'lower'>>
  stages: StageRow[]
  plots: ReportPlot[]
  /** False when no plots renderer was available. */
  plotsRendered: boolean
  /** The branch's experiments; absent when the daemon keeps no records. */
  experiments?: BranchExperiments
  /** This daemon's peer id (its experiments say `this machine`). */
  self?: string
}

/** The report as markdown: every value from a commit goes through `text`, so none can break a table or inject markup. */
export function renderReport (r: ReportInput): string {
  const short = (c?: string): string => (c == null ? 'no commit' : c.slice(0, 12))
  const out: string[] = [
    `# mlp report: ${text(r.branch)} against ${text(r.base.rev)}`,
    '',
    `Base: ${text(r.base.rev)} at ${short(r.base.commit)} (${text(r.base.how)}). Head: the workspace of ${text(r.branch)} at ${short(r.head)}.`,
    '',
    ...dataSection(r.diff),
    '## Params',
    '',
    r.params.length === 0 ? 'No param changed.' : table(['file', 'param', 'base', 'head'], r.params.map((p) => [text(p.file), text(p.key), value(p.old), value(p.new)])),
    '',
    '## Metrics',
    '',
    r.metrics.length === 0 ? 'No metric changed.' : table(['file', 'metric', 'base', 'head', 'change', 'verdict'], r.metrics.map((m) => metricRow(m, r.directions))),
    '',
    'A stage says which way its metrics are better with `meta: {mlp: {metrics: {acc: higher, loss: lower}}}`.',
    '',
    '## Stages',
    '',
    r.stages.length === 0 ? 'No stage is recorded in mlp.lock.' : table(['stage', 'since base', 'ran on', 'took'], r.stages.map((s) => [text(s.stage), s.state, s.ranOn == null ? '-' : text(s.ranOn), took(s)])),
    '',
    // said, not left out silently: a reader of the review would look for a time there
    'A restored stage was not run: its outs came from a run cache (the original run\'s time is not recorded there).',
    '',
    '## Plots',
    '',
    ...plotsSection(r),
    '',
    ...experimentsSection(r.experiments, r.self ?? '')
  ]
  return out.join('\n')
}

/** A stage's time as `1h 2m 3s`, `4.2 s`; a restored stage says so; unknown: `-`. */
function took (s: StageRow): string {
  if (s.restoredFrom != null) return `restored from the run cache of ${text(s.restoredFrom)}`
  return s.duration == null ? '-' : seconds(s.duration)
}

/** Seconds for a person: tenths under a minute, whole seconds with minutes and hours above. */
export function seconds (d: number): string {
  if (d < 60) return `${+d.toFixed(d < 10 ? 2 : 1)} s`
  const t = Math.round(d)
  const h = Math.floor(t / 3600)
  const m = Math.floor((t % 3600) / 60)
  return `${h > 0 ? `${h}h ` : ''}${m}m ${t % 60}s`
}

function dataSection (d: DiffResult): string[] {
  const s = d.summary
  const out = [
    '## Data changes',
    '',
    table(['change', 'files', 'bytes'], [
      ['added', String(s.added), bytes(s.bytes.added)],
      ['deleted', String(s.deleted), bytes(s.bytes.deleted)],
      ['modified', String(s.modified), `${bytes(s.bytes.modifiedOld)} → ${bytes(s.bytes.modifiedNew)}`],
      ['renamed', String(s.renamed), '-']
    ]),
    ''
  ]
  const kinds: Array<[string, DiffEntry[]]> = [['Added', d.added], ['Deleted', d.deleted], ['Modified', d.modified], ['Renamed', d.renamed]]
  for (const [title, list] of kinds) {
    if (list.length === 0) continue
    const shown = list.slice(0, REPORT_PATHS_PER_KIND)
    out.push(`### ${title} (${list.length === shown.length ? list.length : `first ${shown.length} of ${list.length}`})`, '')
    out.push(table(['path', 'size', 'content id'], shown.map((e) => [
      e.oldPath != null ? `${text(e.oldPath)} → ${text(e.path)}` : text(e.path),
      e.old != null && e.new != null && e.old.size !== e.new.size ? `${bytes(e.old.size)} → ${bytes(e.new.size)}` : bytes((e.new ?? e.old)?.size ?? 0),
      text((e.new ?? e.old)?.cid ?? '')
    ])), '')
  }
  return out
}

function metricRow (m: ValueDiff, directions: Map<string, Record<string, 'higher' | 'lower'>>): string[] {
  const way = directions.get(m.file)?.[m.key] ?? directions.get('')?.[m.key]
  let change = '-'
  let verdict = '-'
  if (typeof m.old === 'number' && typeof m.new === 'number') {
    const delta = +(m.new - m.old).toFixed(6)
    change = `${delta > 0 ? '+' : ''}${delta}${m.old !== 0 ? ` (${delta > 0 ? '+' : ''}${+((delta / Math.abs(m.old)) * 100).toFixed(2)}%)` : ''}`
    if (way != null && delta !== 0) verdict = (delta > 0) === (way === 'higher') ? `better (${way} is better)` : `worse (${way} is better)`
  }
  return [text(m.file), text(m.key), value(m.old), value(m.new), change, verdict]
}

function plotsSection (r: ReportInput): string[] {
  if (!r.plotsRendered) return ['Plots were not rendered: this daemon has no plots renderer.']
  if (r.plots.length === 0) return ['The pipeline declares no plots.']
  const out: string[] = ['Each plot shows the base and the head. The SVG files sit beside this report; commit them with it for the forge to show them.', '']
  for (const p of r.plots) out.push(`### ${text(p.title)}`, '', `!${fileLink(p.title, p.file)}`, '', fileLink(`${p.title} (SVG file)`, p.file), '')
  return out
}
