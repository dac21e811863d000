import { randomBytes } from 'node:crypto'
import { existsSync } from 'node:fs'
import { mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { ExpRecord } from '@mlp/proto'
import { PROJECT_ID_PATTERN } from '../tracking/project-id.js'
import { MAX_BYTES_PER_AUTHOR, MAX_BYTES_PER_AUTHOR_TOTAL, MAX_PROJECTS_PER_AUTHOR, MAX_RECORDS_PER_AUTHOR, MAX_UNKNOWN_PROJECT_BYTES } from './constants.js'
import { recordProblem } from './record.js'

/** What {@link ExpRecords.put} did with a record. */
export type PutOutcome = 'stored' | 'unchanged' | 'older' | 'full'

/** Caps of {@link ExpRecords}; the defaults are constants.ts's. */
export interface ExpRecordsInit {
  /** Records per author per project. Default {@link MAX_RECORDS_PER_AUTHOR}. */
  maxRecords?: number
  /** Bytes per author per project. Default {@link MAX_BYTES_PER_AUTHOR}. */
  maxBytes?: number
  /** Projects per author. Default {@link MAX_PROJECTS_PER_AUTHOR}. */
  maxProjects?: number
  /** Bytes per author across every project. Default {@link MAX_BYTES_PER_AUTHOR_TOTAL}. */
  maxAuthorBytes?: number
  /** Bytes per author across the projects `knownProjects` does not list. Default {@link MAX_UNKNOWN_PROJECT_BYTES}. */
  maxUnknownBytes?: number
  /** The ids of the projects this machine knows (exp/projects.ts). Default: none is known, so every project is within `maxUnknownBytes`. */
  knownProjects?: () => Promise<Set<string>>
}

type AuthorRecords = Map<string, ExpRecord>

/** Bytes `record` adds to its author's file (JSON, plus the comma that separates it). */
function recordBytes (r: ExpRecord): number {
  return Buffer.byteLength(JSON.stringify(r)) + 1
}

/**
 * The experiment records this daemon keeps: its own and its teammates',
 * one JSON file per project and author under `dir` (`MLP_HOME/exps`), so a
 * teammate's experiments are listed while its machine is off. Callers verify
 * signatures before {@link ExpRecords.put}; this class enforces the caps.
 * File names come from checked fields only (a hex project id, a base58 peer
 * id), never from anything else a record says. Besides the caps per author
 * and project, an author's records have a byte budget across all projects
 * and a much smaller one across projects this machine does not know, so a
 * teammate cannot fill memory and disk with made-up project ids.
 */
export class ExpRecords {
  private readonly byProject = new Map<string, Map<string, AuthorRecords>>()
  private writes: Promise<void> = Promise.resolve()
  private readonly maxRecords: number
  private readonly maxBytes: number
  private readonly maxProjects: number
  private readonly maxAuthorBytes: number
  private readonly maxUnknownBytes: number
  private readonly knownProjects: () => Promise<Set<string>>
  /** Bytes of each author's file, by author then project: the budgets are checked without serialising anything again. */
  private readonly bytes = new Map<string, Map<string, number>>()
  /** Told of each author whose records {@link ExpRecords.dropAuthor} dropped. */
  private readonly dropListeners = new Set<(author: string) => void>()

  constructor (private readonly dir: string, init: ExpRecordsInit = {}) {
    this.maxRecords = init.maxRecords ?? MAX_RECORDS_PER_AUTHOR
    this.maxBytes = init.maxBytes ?? MAX_BYTES_PER_AUTHOR
    this.maxProjects = init.maxProjects ?? MAX_PROJECTS_PER_AUTHOR
    this.maxAuthorBytes = init.maxAuthorBytes ?? MAX_BYTES_PER_AUTHOR_TOTAL
    this.maxUnknownBytes = init.maxUnknownBytes ?? MAX_UNKNOWN_PROJECT_BYTES
    this.knownProjects = init.knownProjects ?? (async () => new Set())
  }

  /** Reads what earlier runs kept; a file that is not a list of valid records is skipped whole. */
  async load (): Promise<void> {
    if (!existsSync(this.dir)) return
    for (const project of await readdir(this.dir)) {
      if (!PROJECT_ID_PATTERN.test(project)) continue
      for (const file of await readdir(join(this.dir, project))) {
        if (!file.endsWith('.json')) continue
        for (const r of await readList(join(this.dir, project, file))) {
          if (r.project === project && `${r.author}.json` === file) this.authorMap(project, r.author).set(r.name, r)
        }
      }
    }
    for (const [project, authors] of this.byProject) {
      for (const [author, m] of authors) this.setBytes(author, project, 2 + [...m.values()].reduce((n, r) => n + recordBytes(r), 0))
    }
  }

  /** Every record (tombstones included) of `project`. */
  list (project: string): ExpRecord[] {
    return [...(this.byProject.get(project)?.values() ?? [])].flatMap((m) => [...m.values()])
  }

  /** Every record of every project, to send to a teammate. */
  all (): ExpRecord[] {
    return [...this.byProject.keys()].flatMap((p) => this.list(p))
  }

  /** The record (project, author, name), tombstone or not. */
  get (project: string, author: string, name: string): ExpRecord | undefined {
    return this.byProject.get(project)?.get(author)?.get(name)
  }

  /** Keeps one record: see {@link ExpRecords.putMany}. */
  async put (r: ExpRecord): Promise<PutOutcome> {
    return (await this.putMany([r]))[0]
  }

  /**
   * Keeps each record unless a record of the same (project, author, name)
   * is as new or newer, or keeping it would pass the author's caps; the
   * outcomes are in the order of `records`. Each author file touched is
   * written once, however many of its records came (a sync message carries
   * hundreds). Signatures must have been checked (exp/record.ts verifyRecord).
   */
  async putMany (records: ExpRecord[]): Promise<PutOutcome[]> {
    const known = await this.knownProjects()
    const dirty = new Map<string, { project: string, author: string }>()
    const outcomes = records.map((r) => {
      const outcome = this.keep(r, known)
      if (outcome === 'stored') dirty.set(`${r.project}/${r.author}`, { project: r.project, author: r.author })
      return outcome
    })
    for (const { project, author } of dirty.values()) {
      await this.save(project, author, JSON.stringify([...(this.byProject.get(project)?.get(author)?.values() ?? [])]))
    }
    return outcomes
  }

  /** Calls `fn` with each author whose records are dropped (exp/sync.ts exchanges with it again if it comes back). */
  onDropAuthor (fn: (author: string) => void): void {
    this.dropListeners.add(fn)
  }

  /** Stops calling `fn`. */
  offDropAuthor (fn: (author: string) => void): void {
    this.dropListeners.delete(fn)
  }

  /** Drops every record by `author` (a peer removed from the team), here and on disk. */
  async dropAuthor (author: string): Promise<void> {
    for (const fn of this.dropListeners) fn(author)
    for (const [project, authors] of this.byProject) {
      if (!authors.delete(author)) continue
      await this.save(project, author, undefined)
    }
    this.bytes.delete(author)
  }

  /** Puts `r` in memory if it is newer and within the caps. */
  private keep (r: ExpRecord, known: Set<string>): PutOutcome {
    const existing = this.get(r.project, r.author, r.name)
    if (existing != null) {
      if (existing.sig === r.sig) return 'unchanged'
      if (existing.at >= r.at) return 'older'
    }
    const perProject = this.bytes.get(r.author) ?? new Map<string, number>()
    if (!perProject.has(r.project) && perProject.size >= this.maxProjects) return 'full'
    const current = this.byProject.get(r.project)?.get(r.author)
    if (existing == null && (current?.size ?? 0) + 1 > this.maxRecords) return 'full'
    const growth = recordBytes(r) - (existing != null ? recordBytes(existing) : 0)
    const fileBytes = (perProject.get(r.project) ?? 2) + growth
    if (fileBytes > this.maxBytes) return 'full'
    let total = growth
    let unknown = known.has(r.project) ? 0 : growth
    for (const [project, n] of perProject) {
      total += n
      if (!known.has(project)) unknown += n
    }
    if (total > this.maxAuthorBytes || unknown > this.maxUnknownBytes) return 'full'
    this.authorMap(r.project, r.author).set(r.name, r)
    this.setBytes(r.author, r.project, fileBytes)
    return 'stored'
  }

  private setBytes (author: string, project: string, n: number): void {
    let m = this.bytes.get(author)
    if (m == null) this.bytes.set(author, m = new Map())
    m.set(project, n)
  }

  private authorMap (project: string, author: string): AuthorRecords {
    let authors = this.byProject.get(project)
    if (authors == null) this.byProject.set(project, authors = new Map())
    let m = authors.get(author)
    if (m == null) authors.set(author, m = new Map())
    return m
  }

  /** Writes one author's file atomically (removes it when `text` is undefined); writes are serialised so the last state wins on disk too. */
  private async save (project: string, author: string, text: string | undefined): Promise<void> {
    const write = async (): Promise<void> => {
      if (text == null) return await rm(join(this.dir, project, `${author}.json`), { force: true })
      const dir = join(this.dir, project)
      await mkdir(dir, { recursive: true, mode: 0o700 })
      const tmp = join(dir, `.${author}.${randomBytes(6).toString('hex')}.tmp`)
      await writeFile(tmp, text, { mode: 0o600 })
      await rename(tmp, join(dir, `${author}.json`))
    }
    this.writes = this.writes.then(write, write)
    await this.writes
  }
}

/** The records of one stored file; none when it is not a list of valid records (torn or hand-edited: its records come back from their authors on the next sync). */
async function readList (file: string): Promise<ExpRecord[]> {
  try {
    const list = JSON.parse(await readFile(file, 'utf8')) as unknown
    return Array.isArray(list) && list.every((r) => recordProblem(r) == null) ? list as ExpRecord[] : []
  } catch {
    return []
  }
}
