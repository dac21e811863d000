import { ExpError, type ExpRow } from '@mlp/proto'
import { CID } from 'multiformats/cid'
import { requireProjectId } from '../tracking/project-id.js'
import { findProject } from '../tracking/project.js'
import { findExperiment, type ExpComponents } from './context.js'
import { laterThan } from './run.js'
import { signRecord } from './record.js'
import { toRow } from './show.js'

/**
 * `mlp exp remove`: replaces one of this machine's own records by a signed
 * tombstone (state `removed`, nothing else kept) that spreads to teammates
 * like any record, and lets gc have its code changes. A teammate's record
 * cannot be removed here: only its author can sign its tombstone.
 */
export async function removeExperiment (c: ExpComponents, cwd: string, ref: string): Promise<ExpRow> {
  const project = requireProjectId(findProject(cwd))
  const rec = findExperiment(c, project, ref)
  if (rec.author !== c.peerId) throw new ExpError(`experiment '${rec.name}' is ${rec.author}'s: only its author can remove it`)
  const tombstone = await signRecord({ v: 1, project, author: c.peerId, name: rec.name, state: 'removed', base: rec.base, params: [], metrics: [], locks: [], ranOn: {}, startedAt: rec.startedAt, durationMs: 0, at: laterThan(rec.at) }, c.privateKey)
  if (await c.records.put(tombstone) !== 'stored') throw new ExpError(`could not record the removal of '${rec.name}'`)
  if (rec.patch != null) await c.store.pins.unpin([CID.parse(rec.patch.cid).toString()]).catch(() => {})
  void c.sync.syncAll(false)
  return toRow(rec, c.peerId)
}
