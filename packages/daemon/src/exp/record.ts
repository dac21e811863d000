import { peerIdFromString } from '@libp2p/peer-id'
import type { PrivateKey } from '@libp2p/interface'
import type { ExpRecord, ExpState } from '@mlp/proto'
import { CID } from 'multiformats/cid'
import { hasHiddenChar, relativePathProblem } from '../store/path-rules.js'
import { PROJECT_ID_PATTERN } from '../tracking/project-id.js'
import { MAX_LOCKS, MAX_NAME_LENGTH, MAX_PATCH_BYTES, MAX_REASON_LENGTH, MAX_RECORD_BYTES, MAX_STAGES, MAX_VALUES } from './constants.js'

/** Separates these signatures from anything else the same peer key signs (stage results, ...). */
const DOMAIN = 'mlp-exp-record/1'

/** What an experiment name may be: it names files nowhere, but it is typed and shown. */
export const EXP_NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]*$/

const STATES: readonly ExpState[] = ['queued', 'running', 'done', 'failed', 'removed']
const FIELDS = ['v', 'project', 'author', 'name', 'state', 'base', 'patch', 'params', 'metrics', 'locks', 'ranOn', 'startedAt', 'durationMs', 'at', 'reason', 'sig']
const PEER_ID = /^[1-9A-HJ-NP-Za-km-z]{40,100}$/
const COMMIT = /^[0-9a-f]{40}([0-9a-f]{24})?$/

/** JSON with every object's keys sorted: one text per value, whoever serialised it. */
export function canonicalJson (value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => {
    if (v == null || typeof v !== 'object' || Array.isArray(v)) return v
    return Object.fromEntries(Object.keys(v).sort().map((k) => [k, (v as Record<string, unknown>)[k]]))
  })
}

/** The bytes an author signs: the domain and every field but `sig`, canonically. */
export function recordPayload (r: Omit<ExpRecord, 'sig'>): Uint8Array {
  const { sig: _sig, ...rest } = r as ExpRecord
  return new TextEncoder().encode(canonicalJson([DOMAIN, rest]))
}

/** Signs a record with this daemon's key; `author` must be this daemon's peer id. */
export async function signRecord (r: Omit<ExpRecord, 'sig'>, privateKey: PrivateKey): Promise<ExpRecord> {
  const sig = await privateKey.sign(recordPayload(r))
  return { ...r, sig: Buffer.from(sig).toString('base64') } as ExpRecord
}

function isIso (s: unknown): boolean {
  return typeof s === 'string' && s.length <= 40 && !Number.isNaN(Date.parse(s))
}

/** Deepest nesting of a param or metric value walked: a params file's values are shallow. */
const MAX_VALUE_DEPTH = 32

/**
 * Whether every string in a JSON value (object keys too) is free of control
 * and invisible characters: `exp show` and `exp diff` print them. Tabs and
 * line breaks are let through in values (a multi-line string param is
 * real, and printed JSON-quoted), never in keys.
 */
export function valueShowable (v: unknown, depth = 0): boolean {
  if (typeof v === 'string') return !hasHiddenChar(v.replace(/[\t\n\r]/g, ''))
  if (v == null || typeof v !== 'object') return true
  if (depth > MAX_VALUE_DEPTH) return false
  if (Array.isArray(v)) return v.every((x) => valueShowable(x, depth + 1))
  return Object.entries(v).every(([k, x]) => !hasHiddenChar(k) && valueShowable(x, depth + 1))
}

function valueRowsProblem (rows: unknown, what: string): string | undefined {
  if (!Array.isArray(rows) || rows.length > MAX_VALUES) return `${what} must be a list of at most ${MAX_VALUES} rows`
  for (const row of rows) {
    if (row == null || typeof row !== 'object' || Array.isArray(row)) return `${what}: a row is not an object`
    const { file, key } = row as { file?: unknown, key?: unknown }
    if (typeof file !== 'string' || file.length > 4096 || relativePathProblem(file) != null || hasHiddenChar(file)) return `${what}: bad file`
    if (typeof key !== 'string' || key === '' || key.length > 512 || hasHiddenChar(key)) return `${what}: bad key`
    const values = row as { value?: unknown, old?: unknown, new?: unknown }
    if (![values.value, values.old, values.new].every((v) => valueShowable(v))) return `${what}: a value with a control or invisible character`
  }
  return undefined
}

/**
 * Why `value` is not a well-formed record, or undefined. Records come from
 * peers: every field's type, shape and size is checked, paths against the
 * project path rules, every text that is shown (keys, values, files, stage
 * names) for control and invisible characters, and no field is allowed that the signature does not
 * cover the same way on both sides.
 */
export function recordProblem (value: unknown): string | undefined {
  if (value == null || typeof value !== 'object' || Array.isArray(value)) return 'not an object'
  const r = value as Record<string, unknown>
  const extra = Object.keys(r).find((k) => !FIELDS.includes(k))
  if (extra != null) return `unknown field '${extra.slice(0, 40)}'`
  if (r.v !== 1) return 'unknown version'
  if (typeof r.project !== 'string' || !PROJECT_ID_PATTERN.test(r.project)) return 'bad project id'
  if (typeof r.author !== 'string' || !PEER_ID.test(r.author)) return 'bad author'
  if (typeof r.name !== 'string' || r.name.length > MAX_NAME_LENGTH || !EXP_NAME_PATTERN.test(r.name)) return 'bad name'
  if (!STATES.includes(r.state as ExpState)) return 'bad state'
  if (typeof r.base !== 'string' || !COMMIT.test(r.base)) return 'bad base commit'
  if (r.patch !== undefined) {
    const p = r.patch as { cid?: unknown, size?: unknown } | null
    if (p == null || typeof p !== 'object' || Object.keys(p).some((k) => k !== 'cid' && k !== 'size')) return 'bad patch'
    if (typeof p.cid !== 'string' || p.cid.length > 200 || !parsesAsCid(p.cid)) return 'bad patch cid'
    if (!Number.isSafeInteger(p.size) || (p.size as number) < 0 || (p.size as number) > MAX_PATCH_BYTES) return 'bad patch size'
  }
  const rows = valueRowsProblem(r.params, 'params') ?? valueRowsProblem(r.metrics, 'metrics')
  if (rows != null) return rows
  if (!Array.isArray(r.locks) || r.locks.length > MAX_LOCKS) return 'bad locks'
  for (const l of r.locks as unknown[]) {
    const { path, text } = (l ?? {}) as { path?: unknown, text?: unknown }
    if (typeof path !== 'string' || relativePathProblem(path) != null || hasHiddenChar(path) || !(path === 'mlp.lock' || path.endsWith('/mlp.lock'))) return 'bad lock path'
    if (typeof text !== 'string') return 'bad lock text'
  }
  if (r.ranOn == null || typeof r.ranOn !== 'object' || Array.isArray(r.ranOn)) return 'bad ranOn'
  const ran = Object.entries(r.ranOn)
  if (ran.length > MAX_STAGES || ran.some(([stage, peer]) => stage.length > 512 || hasHiddenChar(stage) || typeof peer !== 'string' || !PEER_ID.test(peer))) return 'bad ranOn'
  if (!isIso(r.startedAt) || !isIso(r.at)) return 'bad time'
  if (!Number.isSafeInteger(r.durationMs) || (r.durationMs as number) < 0) return 'bad duration'
  if (r.reason !== undefined && (typeof r.reason !== 'string' || r.reason.length > MAX_REASON_LENGTH || hasHiddenChar(r.reason))) return 'bad reason'
  if (typeof r.sig !== 'string' || r.sig.length > 200) return 'bad signature'
  if (Buffer.byteLength(canonicalJson(r)) > MAX_RECORD_BYTES) return `over ${MAX_RECORD_BYTES} bytes`
  return undefined
}

/** `text` as a record's one-line reason: control and invisible characters become spaces, cut to {@link MAX_REASON_LENGTH}. */
export function oneLineReason (text: string): string {
  const line = [...text].map((ch) => hasHiddenChar(ch) ? ' ' : ch).join('').replace(/ {2,}/g, ' ').trim()
  if (line.length <= MAX_REASON_LENGTH) return line
  // cut on a code point, never between the halves of a surrogate pair
  const cut = line.slice(0, MAX_REASON_LENGTH - 3).replace(/[\ud800-\udbff]$/, '')
  return `${cut}...`
}

function parsesAsCid (s: string): boolean {
  try {
    CID.parse(s)
    return true
  } catch {
    return false
  }
}

/**
 * Why a record from anywhere must not be believed, or undefined: it is
 * malformed, or its signature does not verify against its author's key
 * (Ed25519 peer ids embed it). So the author is the signer: a teammate
 * cannot forge or alter another's record.
 */
export async function verifyRecord (value: unknown): Promise<string | undefined> {
  const problem = recordProblem(value)
  if (problem != null) return problem
  const r = value as ExpRecord
  try {
    const key = peerIdFromString(r.author).publicKey
    if (key == null) return 'author id carries no public key'
    return await key.verify(recordPayload(r), Buffer.from(r.sig, 'base64')) ? undefined : 'signature does not match its author'
  } catch {
    return 'signature does not match its author'
  }
}
