import { define } from './errors.js'

// Types and errors of `mlp diff` and `mlp report`: reviewing data and model
// changes between two git revisions (or a revision and the workspace).

/** A git revision typed (`HEAD~1`, a branch, a tag, a commit) names no commit of the project's repository. */
export const UnknownRevisionError = define('UnknownRevisionError', 'Unknown git revision')
/**
 * Data a revision records (a directory listing, a file's root node, a
 * metrics file) is neither in the local store nor given by any connected peer.
 */
export const RevisionDataMissingError = define('RevisionDataMissingError', 'The data of that revision is not on this machine and no peer gave it')

/** One side of a diff: a git revision as typed and the commit it names, or the workspace. */
export interface DiffSide {
  /** As typed (`HEAD~1`), or `workspace`. */
  rev: string
  /** The full commit id; absent for the workspace. */
  commit?: string
}

/** A file's content id and size in bytes (from its own root node, not a directory link's Tsize). */
export interface DiffFile {
  cid: string
  size: number
}

/** One changed file, relative to the project root. */
export interface DiffEntry {
  /** The path (for a rename: the new path). */
  path: string
  /** For a rename: the old path. */
  oldPath?: string
  /** The tracked output (pointer file or `mlp.lock` out) the file belongs to. */
  out: string
  /** The version at the old side (absent when added). */
  old?: DiffFile
  /** The version at the new side (absent when deleted). */
  new?: DiffFile
}

/** What `mlp diff` answers: files of tracked outputs that differ between `a` and `b`, by kind, sorted by path. */
export interface DiffResult {
  a: DiffSide
  b: DiffSide
  added: DiffEntry[]
  deleted: DiffEntry[]
  modified: DiffEntry[]
  /** Same content id at a new path (an added and a deleted file paired). */
  renamed: DiffEntry[]
  summary: {
    added: number
    deleted: number
    modified: number
    renamed: number
    /** Bytes of added files, of deleted files, and of modified files before and after. */
    bytes: { added: number, deleted: number, modifiedOld: number, modifiedNew: number }
  }
  /** Directory blocks and file root nodes that came from peers for this diff (kept in memory, not stored). */
  fetchedBlocks: number
}

/** The request of the `diff` route. */
export interface DiffRequest {
  cwd: string
  /** Old side (default `HEAD`). */
  a?: string
  /** New side (default: the workspace). */
  b?: string
  /** Limit to these paths (relative to `cwd`): tracked outputs at or below them, or files below a tracked directory. */
  targets?: string[]
}

/** How `mlp report` chose its base revision. */
export interface ReportBase {
  rev: string
  commit: string
  /** Why this base: `given`, `merge-base with origin/main`, `local main`... */
  how: string
}

/** One plot written beside the report. */
export interface ReportPlot {
  /** File name (no folder), made by mlp: `<report>-<n>-<slug>.svg`. */
  file: string
  title: string
  svg: string
}

/** What the `report` route answers: the markdown and the plot files to write beside it (the CLI writes them). */
export interface ReportResult {
  base: ReportBase
  markdown: string
  plots: ReportPlot[]
  diff: DiffResult
}

/** The request of the `report` route. */
export interface ReportRequest {
  cwd: string
  base?: string
  /** The report's file name (no folder): plot files are named after it and linked relative to it. */
  name?: string
}
