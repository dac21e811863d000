import { ExpError, type ExpRecord } from '@mlp/proto'
import { resolveRevision } from '../pipeline/revision.js'
import { findProjectId } from '../tracking/project-id.js'
import { WORKSPACE } from './constants.js'
import type { RevisionInput } from './draw.js'

/** Where `plots diff` finds experiments: the records this daemon keeps (its own and teammates'), and its own peer id. */
export interface PlotsExperiments {
  /** Every record (tombstones included) of a project id. */
  list: (project: string) => ExpRecord[]
  /** This daemon's peer id: its own experiment wins a bare name. */
  self: string
}

/**
 * The live record `ref` names: `name`, or `<author peer id or its start>/<name>`
 * when teammates used one name; this daemon's own wins a bare name. Undefined
 * when none does.
 */
function findRecord (e: PlotsExperiments, project: string, ref: string): ExpRecord | undefined {
  const slash = ref.lastIndexOf('/')
  const author = slash >= 0 ? ref.slice(0, slash) : undefined
  const name = slash >= 0 ? ref.slice(slash + 1) : ref
  const found = e.list(project).filter((r) => r.state !== 'removed' && r.name === name && (author == null || r.author.startsWith(author)))
  const own = found.find((r) => r.author === e.self)
  if (own != null && author == null) return own
  if (found.length > 1) throw new ExpError(`'${ref}' names experiments of ${found.length} teammates: say which, e.g. ${found.slice(0, 2).map((r) => `${r.author}/${r.name}`).join(' or ')}`)
  return found[0]
}

/**
 * `plots diff`'s revisions with experiment names resolved: a name git knows
 * (branch, tag, commit) stays a revision, as DVC does; otherwise an
 * experiment of this project by that name is drawn from its record's locks
 * (its outs fetched from peers when missing), labelled with its name. A name
 * that is neither is git's unknown-revision error.
 */
export async function withExperiments (e: PlotsExperiments, root: string, revs: string[]): Promise<RevisionInput[]> {
  const project = findProjectId(root)
  const out: RevisionInput[] = []
  for (const rev of revs) {
    if (rev === WORKSPACE || project == null) {
      out.push(rev)
      continue
    }
    try {
      await resolveRevision(root, rev)
      out.push(rev)
      continue
    } catch (err) {
      if ((err as Error).name !== 'UnknownRevisionError') throw err
      const rec = findRecord(e, project, rev)
      if (rec == null) throw err
      if (rec.state !== 'done') throw new ExpError(`experiment '${rec.name}' is ${rec.state}: only a finished experiment has plot data`, { cause: err })
      out.push({ rev: rec.name, label: rec.name, experiment: { base: rec.base, locks: rec.locks } })
    }
  }
  return out
}
