import { CID } from 'multiformats/cid'
import { parse } from 'yaml'
import type { RootSource } from '../store/root-sources.js'
import type { ExpRecords } from './records.js'

/**
 * gc keeps the outputs of every live experiment this daemon knows (its own
 * and, where it holds them, its teammates'), so `mlp exp apply` can still
 * fetch them from here after the workspace has moved on. They are optional
 * roots: a teammate's outputs are usually not here. A removed experiment's
 * outputs go at the next gc that finds nothing else keeping them.
 */
export function expRootSource (records: ExpRecords): RootSource {
  return {
    name: 'experiments',
    roots: async (query) => {
      const optional = new Map<string, CID>()
      for (const r of records.all()) {
        query.signal?.throwIfAborted()
        if (r.state === 'removed') continue
        for (const l of r.locks) {
          let lock: { stages?: Record<string, { outs?: Array<{ cid?: unknown }> }> } | null
          try {
            lock = parse(l.text) as typeof lock
          } catch {
            continue
          }
          for (const e of Object.values(lock?.stages ?? {})) {
            for (const o of e?.outs ?? []) addCid(optional, o?.cid)
          }
        }
      }
      return { roots: [], optional: [...optional.values()] }
    }
  }
}

function addCid (into: Map<string, CID>, text: unknown): void {
  if (typeof text !== 'string') return
  try {
    const cid = CID.parse(text)
    into.set(cid.toString(), cid)
  } catch {
    // a record's lock is checked when applied; a bad id keeps nothing
  }
}
