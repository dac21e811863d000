import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ExpError, type ExpRecord } from '@mlp/proto'
import { CID } from 'multiformats/cid'
import type { FetchOptions, FetchProgress } from '../exchange/fetch.js'
import type { Store } from '../store/index.js'
import type { ExpComponents } from './context.js'
import { MAX_PATCH_BYTES } from './constants.js'

/** Adds an experiment's patch to the block store and pins it, so gc keeps what a teammate may fetch to apply it. */
export async function storePatch (store: Store, bytes: Buffer, name: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'mlp-exp-'))
  try {
    const file = join(dir, 'changes.patch')
    await writeFile(file, bytes)
    const r = await store.lock.read(async () => await store.importer.import(file, 'changes.patch', { store: true }))
    await store.pins.pin(r.link.cid, `experiment ${name}: code changes`)
    return r.link.cid.toString()
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
}

/** Bytes a patch's DAG may hold beyond the patch itself: its dag-pb nodes (a few per MiB of leaves) and their links. */
const PATCH_DAG_OVERHEAD = 64 * 1024

/**
 * fetchDag options that cut a fetch off once more than `maxBytes` have
 * arrived, or as soon as the root block says the DAG is bigger: a record's
 * author declares the patch's size, and a peer must not make this machine
 * take more. Progress comes every 100 ms (PROGRESS_INTERVAL_MS), so a fetch
 * may pass the limit by what arrives between two reports.
 */
export function byteLimited (maxBytes: number, signal?: AbortSignal): FetchOptions {
  const stop = new AbortController()
  return {
    signal: AbortSignal.any([stop.signal, ...(signal != null ? [signal] : [])]),
    onProgress: (p: FetchProgress) => {
      if (p.bytes > maxBytes || p.totalBytes > maxBytes) stop.abort(new ExpError(`the code changes ${p.root} are bigger than the ${maxBytes} bytes their record allows: fetch stopped`))
    }
  }
}

/**
 * An experiment's patch bytes (empty when it changed no tracked file),
 * fetched from whichever peer holds them, no more than the record's size
 * (and its DAG's nodes) coming over the network; the size must be the
 * record's.
 */
export async function fetchPatchBytes (c: ExpComponents, rec: ExpRecord, signal?: AbortSignal): Promise<Buffer> {
  if (rec.patch == null) return Buffer.alloc(0)
  const { cid, size } = rec.patch
  try {
    await c.fetch(CID.parse(cid), signal, Math.min(size, MAX_PATCH_BYTES) + PATCH_DAG_OVERHEAD)
  } catch (err) {
    if ((err as Error).name === 'ExpError') throw err
    throw new ExpError(`no reachable peer holds the code changes (${cid}) of experiment '${rec.name}': start its author's daemon or a teammate's who has them, then try again`, { cause: err })
  }
  const parts: Uint8Array[] = []
  let total = 0
  for await (const chunk of c.store.exporter.file(CID.parse(cid), signal)) {
    total += chunk.length
    // the declared size is the most worth reading: more is refused below anyway
    if (total > size) break
    parts.push(chunk)
  }
  if (total !== size) throw new ExpError(`the code changes of experiment '${rec.name}' are ${total > size ? 'more than' : total} bytes, not the ${size} its record says`)
  return Buffer.concat(parts)
}
