import { execFile } from 'node:child_process'
import type { ExpRecord } from '@mlp/proto'
import { findProjectId } from '../tracking/project-id.js'
import { table, text, value } from './markdown.js'

/** Experiments listed in a report; the rest are counted. */
export const REPORT_MAX_EXPERIMENTS = 20

/** Values shown per experiment cell (params changed, metrics); the rest are counted. */
const VALUES_PER_CELL = 6

/** Where a report reads experiment records: this daemon's own and its teammates' (exp/records.ts), and who "this machine" is. */
export interface ReportExperiments {
  /** Every record (tombstones included) of a project id. */
  list: (project: string) => ExpRecord[]
  /** This daemon's peer id: its own experiments say `this machine`. */
  self: string
}

/** What the report's experiments section shows. */
export interface BranchExperiments {
  /** Newest first, at most {@link REPORT_MAX_EXPERIMENTS}. */
  shown: ExpRecord[]
  /** How many more belong to the branch. */
  more: number
}

async function revList (root: string, range: string): Promise<Set<string>> {
  return await new Promise((resolve) => {
    execFile('git', ['rev-list', range], { cwd: root, maxBuffer: 64 * 1024 * 1024, env: { ...process.env, GIT_OPTIONAL_LOCKS: '0' } }, (err, stdout) => {
      resolve(new Set(err == null ? stdout.split('\n').filter((l) => l !== '') : []))
    })
  })
}

/**
 * The live experiments of this project (by its project id) that started
 * from the base commit or a commit of the branch since it (`base..HEAD`),
 * newest first. Records were verified when stored: `base` is a commit id,
 * matched here only by equality, never handed to git.
 */
export async function branchExperiments (e: ReportExperiments, root: string, baseCommit: string): Promise<BranchExperiments> {
  const project = findProjectId(root)
  if (project == null) return { shown: [], more: 0 }
  const commits = await revList(root, `${baseCommit}..HEAD`)
  commits.add(baseCommit)
  const all = e.list(project)
    .filter((r) => r.state !== 'removed' && commits.has(r.base))
    .sort((a, b) => b.startedAt.localeCompare(a.startedAt) || a.name.localeCompare(b.name))
  return { shown: all.slice(0, REPORT_MAX_EXPERIMENTS), more: Math.max(0, all.length - REPORT_MAX_EXPERIMENTS) }
}

/** A list of `key=value` pairs as one safe cell, capped. */
function pairs (rows: Array<{ key: string, value: unknown }>): string {
  if (rows.length === 0) return '-'
  const shown = rows.slice(0, VALUES_PER_CELL).map((r) => `${text(r.key, 60)}=${value(r.value)}`)
  return `${shown.join(', ')}${rows.length > shown.length ? `, +${rows.length - shown.length} more` : ''}`
}

/** The report's experiments section: a table of {@link branchExperiments}, every record field escaped (a teammate wrote it). */
export function experimentsSection (x: BranchExperiments | undefined, self: string): string[] {
  const out = ['## Experiments', '']
  if (x == null) return [...out, 'Experiments were not listed: this daemon keeps no experiment records.', '']
  if (x.shown.length === 0) return [...out, 'No experiment started from this branch since the base (`mlp exp run` records them).', '']
  const note = x.more > 0 ? `The ${x.shown.length} most recent of ${x.shown.length + x.more}` : 'Newest first'
  out.push(`${note}: experiments (this machine's and teammates') that started from the base or a commit of this branch.`, '')
  out.push(table(['name', 'by', 'state', 'where', 'changed params', 'metrics'], x.shown.map((r) => [
    text(r.name),
    r.author === self ? 'this machine' : text(r.author),
    text(r.state),
    text([...new Set(Object.values(r.ranOn))].join(', ')) || '-',
    pairs(r.params.map((p) => ({ key: p.key, value: p.new }))),
    pairs(r.metrics)
  ])), '')
  if (x.more > 0) out.push(`${x.more} more not shown: \`mlp exp show\` lists them all.`, '')
  return out
}
