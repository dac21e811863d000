import type { PrivateKey } from '@libp2p/interface'
import { ExpError, ExpNotFoundError, type ExpRecord } from '@mlp/proto'
import type { CID } from 'multiformats/cid'
import type { ReproComponents } from '../pipeline/reproduce.js'
import type { ExpRecords } from './records.js'
import type { ExpSync } from './sync.js'

/** What the experiment commands need: what `mlp repro` needs, plus the records, their sync and the key that signs them. */
export interface ExpComponents extends ReproComponents {
  records: ExpRecords
  sync: ExpSync
  privateKey: PrivateKey
  /** Fetches a DAG from peers into the store; with `maxBytes`, stops (rejecting) once more than that would come (exp/patch.ts byteLimited). */
  fetch: (cid: CID, signal?: AbortSignal, maxBytes?: number) => Promise<void>
  /** Where queued experiments are built and run, each in a git worktree of its own (`MLP_HOME/exp-runs`). */
  workDir: string
}

/**
 * The live (not removed) record `ref` names in `project`: `name`, or
 * `<author peer id or its start>/<name>` when teammates used one name.
 * This daemon's own record wins a bare name. Only records `exp show`
 * lists count: this daemon's own and its teammates' (a peer removed from
 * the team is no longer one).
 */
export function findExperiment (c: ExpComponents, project: string, ref: string): ExpRecord {
  const slash = ref.lastIndexOf('/')
  const author = slash >= 0 ? ref.slice(0, slash) : undefined
  const name = slash >= 0 ? ref.slice(slash + 1) : ref
  const found = c.records.list(project).filter((r) => r.state !== 'removed' && r.name === name && (author == null || r.author.startsWith(author)) && c.sync.trusts(r.author))
  const own = found.find((r) => r.author === c.peerId)
  if (own != null && author == null) return own
  if (found.length === 1) return found[0]
  if (found.length === 0) throw new ExpNotFoundError(`no experiment '${ref}' in this project: \`mlp exp show\` lists them`)
  throw new ExpError(`'${ref}' names experiments of ${found.length} teammates: say which, e.g. ${found.map((r) => `${r.author}/${r.name}`).join(' or ')}`)
}
