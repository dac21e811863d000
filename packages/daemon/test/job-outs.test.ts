import { randomBytes } from 'node:crypto'
import { mkdirSync, writeFileSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { CID } from 'multiformats/cid'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { storeJobOuts } from '../src/exec/job-outs.js'
import { collectGarbage } from '../src/store/gc.js'
import { openStore, type Store } from '../src/store/index.js'

let work: string
let store: Store

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'mlp-job-outs-'))
  store = await openStore(join(work, 'store'))
})
afterAll(async () => {
  await store.close()
  await rm(work, { recursive: true, force: true })
})

/** `mlp gc` on the executor with nothing else naming any block. */
async function gcNow (): Promise<void> {
  await store.lock.write(async () => { await collectGarbage(store.blockstore, []) })
}

describe('a finished job\'s outs before their result is in the run cache', () => {
  it('survive a gc while protected, and a gc sweeps them once released (control)', async () => {
    const job = join(work, 'job')
    mkdirSync(join(job, 'model'), { recursive: true })
    writeFileSync(join(job, 'model', 'weights.bin'), randomBytes(1_500_000))
    writeFileSync(join(job, 'metrics.json'), '{"acc": 0.9}\n')
    const { outs, release } = await storeJobOuts(store, job, ['model', 'metrics.json'])
    expect(outs.map((o) => o.path)).toEqual(['model', 'metrics.json'])
    expect(outs[0].nfiles).toBe(1)
    const roots = outs.map((o) => CID.parse(o.cid))

    await gcNow()
    for (const root of roots) expect(await store.blockstore.has(root)).toBe(true)
    const bytes: Uint8Array[] = []
    for await (const chunk of store.exporter.file(CID.parse((await store.exporter.list(roots[0]))[0].cid))) bytes.push(chunk)
    expect(Buffer.concat(bytes).length).toBe(1_500_000)

    release()
    await gcNow()
    for (const root of roots) expect(await store.blockstore.has(root)).toBe(false)
  })
})
