import type { ValueDiff } from '@mlp/proto'
import type { CID } from 'multiformats/cid'
import { MAX_PIPELINE_FILE_BYTES } from '../pipeline/file-size.js'
import { metricFiles } from '../pipeline/read-only.js'
import { resolveRevisionOrUnborn } from '../pipeline/revision.js'
import { diffValues, revisionValues, workspaceValues } from '../pipeline/values.js'
import { findProject } from '../tracking/project.js'
import type { DiffComponents } from './index.js'
import { childOf, ListingBlocks, readSmallFile } from './listing.js'
import { outsAtCommit } from './tracked.js'

/**
 * `mlp metrics diff`: every metrics file's values at a revision against the
 * workspace. A metrics file that is a tracked output (not in git) is read
 * from the data that revision records: from the store, else from the peers
 * holding it (only that file's blocks), else the diff fails saying which
 * file and revision lack data and how to fetch it. An unknown revision is
 * an error (`HEAD` with no commit yet: every value is new).
 */
export async function metricsDiff (c: DiffComponents, cwd: string, rev = 'HEAD', signal?: AbortSignal): Promise<ValueDiff[]> {
  const root = findProject(cwd)
  const commit = await resolveRevisionOrUnborn(root, rev)
  const outs = commit == null ? [] : await outsAtCommit(root, commit)
  const blocks = new ListingBlocks(c.store, c.peers, signal)
  const fromData = (file: string) => async (): Promise<string | undefined> => {
    // the file itself, or (a top-level metrics file, as in DVC's examples) a file inside a directory out
    const out = outs.find((o) => o.path === file || file.startsWith(`${o.path}/`))
    if (out == null) return undefined
    const missing = (rootCid: CID): string => `metrics file ${file} at ${rev} (in ${out.path}, ${rootCid.toString()}) is not on this machine and no connected peer gave it: run \`mlp fetch ${rootCid.toString()}\` while a teammate who holds it is online`
    return await c.store.lock.read(async () => {
      let cid: CID | undefined = out.cid
      for (const name of file.slice(out.path.length + 1).split('/').filter((n) => n !== '')) {
        cid = await childOf(blocks, out.cid, cid, name, missing)
        if (cid == null) return undefined
      }
      return Buffer.from(await readSmallFile(blocks, out.cid, cid, MAX_PIPELINE_FILE_BYTES, missing)).toString('utf8')
    })
  }
  const diff: ValueDiff[] = []
  for (const f of metricFiles(root)) diff.push(...diffValues(f, await revisionValues(root, f, commit ?? rev, fromData(f)), workspaceValues(root, f)))
  return diff
}
