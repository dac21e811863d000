import { execFile } from 'node:child_process'
import { relative } from 'node:path'
import type { ReportPlot, ReportRequest, ReportResult } from '@mlp/proto'
import { diffRevisions, type DiffComponents } from '../diff/index.js'
import { metricsDiff } from '../diff/metrics.js'
import { lockOuts } from '../diff/tracked.js'
import { rootPath } from '../pipeline/graph.js'
import { lockDuration, readLock, type LockEntry, type LockFile, ranOnPeer } from '../pipeline/lock.js'
import { readParamsDiff } from '../pipeline/read-only.js'
import { loadProjectPipeline } from '../pipeline/project-pipeline.js'
import { gitShow } from '../pipeline/values.js'
import { parse as parseYaml } from 'yaml'
import { findProject } from '../tracking/project.js'
import { reportBase } from './base.js'
import { branchExperiments, type ReportExperiments } from './experiments.js'
import { slug } from './markdown.js'
import type { PlotRenderer } from './plots.js'
import { renderReport, type StageRow } from './render.js'

/** What a report needs: a diff's components, and the plots renderer where there is one. */
export interface ReportComponents extends DiffComponents {
  plots?: PlotRenderer
  /** Experiment records; absent: the report says experiments were not listed. */
  experiments?: ReportExperiments
}

async function gitLine (root: string, args: string[]): Promise<string | undefined> {
  return await new Promise((resolve) => {
    execFile('git', args, { cwd: root }, (err, stdout) => { resolve(err == null ? stdout.trim() : undefined) })
  })
}

/**
 * `mlp report`: a markdown review of the workspace (the branch as it is
 * now) against a base revision: data changes, params, metrics with deltas
 * and which way is better, the stages and where they ran, and plots of
 * base and head. The CLI writes the markdown and the plot files; their
 * names are made here from nothing a commit controls.
 */
export async function buildReport (c: ReportComponents, request: ReportRequest, signal?: AbortSignal): Promise<ReportResult> {
  const root = findProject(request.cwd)
  const base = await reportBase(root, request.base)
  const branch = await gitLine(root, ['rev-parse', '--abbrev-ref', 'HEAD']) ?? 'HEAD'
  const head = await gitLine(root, ['rev-parse', '--verify', '-q', 'HEAD'])
  const diff = await diffRevisions(c, { cwd: root, a: base.commit }, signal)
  diff.a.rev = base.rev
  const params = await readParamsDiff(root, base.commit)
  const metrics = await metricsDiff(c, root, base.commit, signal)
  const stem = reportStem(request.name)
  const plots: ReportPlot[] = []
  if (c.plots != null) {
    for (const p of await c.plots(root, base.commit, signal)) plots.push({ file: `${stem}-${plots.length + 1}-${slug(p.title || p.id)}.svg`, title: p.title || p.id, svg: p.svg })
  }
  const experiments = c.experiments != null ? await branchExperiments(c.experiments, root, base.commit) : undefined
  const markdown = renderReport({ branch, head, base, diff, params, metrics, directions: metricDirections(root), stages: await stageRows(root, base.commit), plots, plotsRendered: c.plots != null, experiments, self: c.experiments?.self ?? '' })
  return { base, markdown, plots, diff }
}

/** The report's file name without `.md`, for its plot files' names: plain characters only. */
function reportStem (name?: string): string {
  const stem = (name ?? 'report').replace(/\.md$/i, '').replace(/[^A-Za-z0-9._-]+/g, '-').replace(/^[-.]+/, '').slice(0, 60)
  return stem === '' ? 'report' : stem
}

/** Which way each metric is better, by metrics file (relative to the root) and dotted key, from the stages' `meta.mlp.metrics`. */
function metricDirections (root: string): Map<string, Record<string, 'higher' | 'lower'>> {
  const out = new Map<string, Record<string, 'higher' | 'lower'>>()
  const pipeline = loadProjectPipeline(root)
  for (const s of pipeline?.stages ?? []) {
    if (s.metricsBetter == null) continue
    // a stage's directions hold for its own metrics files, and (top-level `metrics:` lists name files no stage declares) for any file as a fallback
    for (const o of s.outs.filter((o) => o.kind === 'metric')) out.set(rootPath(s, o.path), { ...out.get(rootPath(s, o.path)), ...s.metricsBetter })
    out.set('', { ...s.metricsBetter, ...out.get('') })
  }
  return out
}

/** The lock entries at the base commit, by stage key, of every lock file the workspace's pipeline has. */
async function stageRows (root: string, baseCommit: string): Promise<StageRow[]> {
  const rows: StageRow[] = []
  for (const unit of loadProjectPipeline(root)?.units ?? []) {
    const rel = relative(root, unit.lockFile)
    const now: LockFile = readLock(unit.lockFile)
    const text = await gitShow(root, rel, baseCommit)
    // the base lock's outs are checked as any committed lock's are; its other fields are only compared
    if (text != null) lockOuts(text, `${baseCommit.slice(0, 12)}:${rel}`)
    const was = text == null ? {} : ((parseYaml(text) as LockFile | null)?.stages ?? {})
    const prefix = rel === 'mlp.lock' ? '' : `${rel.replace(/mlp\.lock$/, '')}`
    for (const [name, e] of Object.entries(now.stages)) {
      const before = (was as Record<string, LockEntry | undefined>)[name]
      const restoredFrom = typeof e.restored_from === 'string' ? e.restored_from : undefined
      rows.push({ stage: `${prefix}${name}`, ranOn: ranOnPeer(e.ran_on), state: before == null ? 'new' : same(before, e) ? 'unchanged' : 'reran', duration: lockDuration(e), restoredFrom })
    }
  }
  return rows
}

function same (a: LockEntry, b: LockEntry): boolean {
  const key = (e: LockEntry): string => JSON.stringify([e.cmd, e.deps ?? [], e.params ?? {}, e.outs ?? []])
  return key(a) === key(b)
}
