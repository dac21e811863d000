import { existsSync } from 'node:fs'
import { resolve } from 'node:path'
import { CID } from 'multiformats/cid'
import { NotInTeamError, NotSharedError, PathError, type SharedRoot, type TeamListing } from '@mlp/proto'
import type { Providers } from '../exchange/providers.js'
import type { MlpNode } from '../net/node.js'
import { POINTER_SUFFIX, readPointer } from '../tracking/pointers.js'
import type { TeamList } from '../trust/team.js'
import type { TeamPolicy } from '../trust/team-policy.js'
import type { ShareList } from '../trust/team-shares.js'
import type { Handlers } from './server.js'
import { cwdOf, requiredString, stringList } from './validate.js'

/** What the team and sharing routes need. */
export interface TeamRoutesComponents {
  node: MlpNode
  team: TeamList
  policy: TeamPolicy
  shares: ShareList
  providers: Providers
  replicaQuota: number
  /** Called once a peer removed with `mlp team rm` is no teammate at all any more: forgets what it sent (its experiment records). Default: nothing. */
  onRemoved?: (peer: string) => Promise<void>
}

/** Routes about teammates and what strangers may read. */
export type TeamRoute = 'team/add' | 'team/rm' | 'team/ls' | 'unshare' | 'share/ls'

function tryCid (text: string): CID | undefined {
  try {
    return CID.parse(text)
  } catch {
    return undefined
  }
}

/** The cids and absolute paths `mlp unshare` names: content ids, shared paths, or the pointer files of shared paths. */
async function unshareKeys (cwd: string, targets: string[]): Promise<{ cids: Set<string>, paths: Set<string> }> {
  const cids = new Set<string>()
  const paths = new Set<string>()
  for (const t of targets) {
    const cid = tryCid(t)
    if (cid != null) {
      cids.add(cid.toString())
      continue
    }
    const abs = resolve(cwd, t)
    const pointer = abs.endsWith(POINTER_SUFFIX) ? abs : `${abs}${POINTER_SUFFIX}`
    paths.add(abs.endsWith(POINTER_SUFFIX) ? abs.slice(0, -POINTER_SUFFIX.length) : abs)
    // what the pointer records now too: the path may have been shared by cid
    if (existsSync(pointer)) for (const o of (await readPointer(pointer)).outs) cids.add(CID.parse(o.cid).toString())
  }
  return { cids, paths }
}

/** Handlers of `mlp team add|rm|ls`, `mlp unshare` and `mlp share --list`. */
export function createTeamHandlers (c: TeamRoutesComponents): Pick<Handlers, TeamRoute> {
  const listing = (): TeamListing => ({
    swarmKey: c.policy.swarmKey,
    members: c.policy.members(c.node.getPeers().map((p) => p.toString())),
    replicaQuota: c.replicaQuota
  })
  return {
    'team/add': async (body) => {
      await c.team.add(requiredString(body.peerId, 'peerId'))
      return listing()
    },
    'team/rm': async (body) => {
      const peer = requiredString(body.peerId, 'peerId')
      if (!(await c.team.remove(peer))) {
        const other = c.policy.via(peer)
        throw new NotInTeamError(`${peer} was not added with \`mlp team add\`${other.length > 0 ? ` (it is a teammate through ${other.join(', ')}: see \`mlp team ls\`)` : ''}`)
      }
      if (!c.policy.isTeammate(peer)) await c.onRemoved?.(peer)
      return listing()
    },
    'team/ls': async () => listing(),
    'share/ls': async () => c.shares.list(),
    unshare: async (body): Promise<SharedRoot[]> => {
      const targets = stringList(body.targets, 'targets') ?? []
      if (targets.length === 0) throw new PathError('nothing to unshare: name paths or content ids (`mlp share --list` shows what is shared)')
      const removed = await c.shares.remove(await unshareKeys(cwdOf(body), targets))
      if (removed.length === 0) throw new NotSharedError(`${targets.join(', ')}: not shared (\`mlp share --list\` shows what is)`)
      for (const r of removed) await c.providers.withdraw(CID.parse(r.cid))
      return removed
    }
  }
}
