import { CID } from 'multiformats/cid'
import type { VerifyResult } from '@mlp/proto'
import type { Blockstore } from './blockstore.js'
import { markReachable } from './gc.js'

/** Rehashes every stored block, then checks that every root's DAG is complete. */
export async function verifyStore (blockstore: Blockstore, roots: CID[], options: { signal?: AbortSignal, onProgress?: (checked: number) => void } = {}): Promise<VerifyResult> {
  const corrupt: string[] = []
  let checkedBlocks = 0
  let checkedBytes = 0
  for await (const key of blockstore.index.blocks.keys()) {
    options.signal?.throwIfAborted()
    const cid = CID.decode(key)
    try {
      checkedBytes += (await blockstore.get(cid)).length
    } catch {
      corrupt.push(cid.toString())
    }
    checkedBlocks++
    if (checkedBlocks % 1000 === 0) options.onProgress?.(checkedBlocks)
  }
  const missing: CID[] = []
  const bad = new Set(corrupt)
  await markReachable(blockstore, roots.filter((r) => !bad.has(r.toString())), missing, true)
  return { checkedBlocks, checkedBytes, corrupt, missing: [...new Set(missing.map((c) => c.toString()))] }
}
