import { randomBytes } from 'node:crypto'
import { existsSync } from 'node:fs'
import { mkdir, readdir, readFile, rename, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { ExpRecord } from '@mlp/proto'
import { PROJECT_ID_PATTERN } from '../tracking/project-id.js'
import { MAX_BYTES_PER_AUTHOR, MAX_PROJECTS_PER_AUTHOR, MAX_RECORDS_PER_AUTHOR } from './constants.js'
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
}

type AuthorRecords = Map<string, ExpRecord>

/**
 * The experiment records this daemon keeps: its own and its teammates',
 * one JSON file per project and author under `dir` (`MLP_HOME/exps`), so a
 * teammate's experiments are listed while its machine is off. Callers verify
 * signatures before {@link ExpRecords.put}; this class enforces the caps.
 * File names come from checked fields only (a hex project id, a base58 peer
 * id), never from anything else a record says.
 */
export class ExpRecords {
  private readonly byProject = new Map<string, Map<string, AuthorRecords>>()
  private writes: Promise<void> = Promise.resolve()
  private readonly maxRecords: number
  private readonly maxBytes: number
  private readonly maxProjects: number

  constructor (private readonly dir: string, init: ExpRecordsInit = {}) {
    this.maxRecords = init.maxRecords ?? MAX_RECORDS_PER_AUTHOR
    this.maxBytes = init.maxBytes ?? MAX_BYTES_PER_AUTHOR
    this.maxProjects = init.maxProjects ?? MAX_PROJECTS_PER_AUTHOR
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

  /**
   * Keeps `r` unless a record of the same (project, author, name) is as new
   * or newer, or keeping it would pass the author's caps. The signature
   * must have been checked (exp/record.ts verifyRecord).
   */
  async put (r: ExpRecord): Promise<PutOutcome> {
    const existing = this.get(r.project, r.author, r.name)
    if (existing != null) {
      if (existing.sig === r.sig) return 'unchanged'
      if (existing.at >= r.at) return 'older'
    }
    const projects = [...this.byProject].filter(([, authors]) => authors.has(r.author)).length
    if (existing == null && this.byProject.get(r.project)?.has(r.author) !== true && projects >= this.maxProjects) return 'full'
    const current = this.byProject.get(r.project)?.get(r.author) ?? new Map()
    const next = new Map(current).set(r.name, r)
    if (next.size > this.maxRecords) return 'full'
    const text = JSON.stringify([...next.values()])
    if (Buffer.byteLength(text) > this.maxBytes) return 'full'
    this.authorMap(r.project, r.author).set(r.name, r)
    await this.save(r.project, r.author, text)
    return 'stored'
  }

  private authorMap (project: string, author: string): AuthorRecords {
    let authors = this.byProject.get(project)
    if (authors == null) this.byProject.set(project, authors = new Map())
    let m = authors.get(author)
    if (m == null) authors.set(author, m = new Map())
    return m
  }

  /** Writes one author's file atomically; writes are serialised so the last state wins on disk too. */
  private async save (project: string, author: string, text: string): Promise<void> {
    const write = async (): Promise<void> => {
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
