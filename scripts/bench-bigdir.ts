import { execFileSync } from 'node:child_process'
import { copyFileSync, cpSync, mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { mlp, type Figure } from './lib/harness.js'

/** Files in the one directory: its flat node would be ~5.8 MB, so it is stored HAMT-sharded. */
const FILES = 100_000

async function startDaemon (home: string): Promise<{ home: string, pid: number, addr: string }> {
  const r = await mlp(home, ['daemon', 'start', '--listen', '/ip4/127.0.0.1/tcp/0', '--no-mdns', '--json'])
  const s = JSON.parse(r.stdout) as { pid: number, addrs: string[] }
  return { home, pid: s.pid, addr: s.addrs[0] }
}

/**
 * One directory of {@link FILES} tiny files (issue 13): `mlp add` on one
 * daemon (then `mlp share`, untimed), `mlp fetch` of its id by another, `mlp checkout` of the pointer
 * file there, then `mlp status`. Run alone with `MLP_BENCH_ONLY=bigdir npm run bench`.
 * Daemons are pushed onto `started` for the caller to stop.
 */
export async function benchBigDir (work: string, started: Array<{ home: string, pid: number }>): Promise<Figure[]> {
  const seed = await startDaemon(join(work, 'bigdir-seed'))
  started.push(seed)
  const fetcher = await startDaemon(join(work, 'bigdir-fetcher'))
  started.push(fetcher)
  await mlp(fetcher.home, ['peers', 'add', seed.addr])
  const proj = join(work, 'bigdir-proj')
  const data = join(proj, 'data')
  mkdirSync(data, { recursive: true })
  execFileSync('git', ['init', '-q'], { cwd: proj })
  await mlp(seed.home, ['init'], proj)
  for (let i = 0; i < FILES; i++) writeFileSync(join(data, `file-${String(i).padStart(6, '0')}.txt`), `${i}\n`)

  const add = await mlp(seed.home, ['add', 'data', '--json'], proj)
  const [{ cid }] = JSON.parse(add.stdout) as Array<{ cid: string }>
  // the fetcher is no teammate: the seed serves only what it shares (the add above is already in the stat cache)
  await mlp(seed.home, ['share', 'data'], proj)
  const fetch = await mlp(fetcher.home, ['fetch', cid, '--json'])
  // the teammate's side: a clone with the pointer file, checked out from the fetched store
  const clone = join(work, 'bigdir-clone')
  mkdirSync(clone)
  execFileSync('git', ['init', '-q'], { cwd: clone })
  cpSync(join(proj, '.mlp'), join(clone, '.mlp'), { recursive: true })
  copyFileSync(join(proj, 'data.mlp'), join(clone, 'data.mlp'))
  const checkout = await mlp(fetcher.home, ['checkout', '--json'], clone)
  const status = await mlp(fetcher.home, ['status', '--json'], clone)
  const label = `${FILES.toLocaleString('en-US')} files in one directory`
  return [
    { name: `mlp add, ${label} (${add.seconds.toFixed(1)} s)`, value: FILES / add.seconds, unit: 'files/s' },
    { name: `mlp fetch, ${label} (${fetch.seconds.toFixed(1)} s)`, value: FILES / fetch.seconds, unit: 'files/s' },
    { name: `mlp checkout, ${label} (${checkout.seconds.toFixed(1)} s)`, value: FILES / checkout.seconds, unit: 'files/s' },
    { name: `mlp status after that checkout, ${label}`, value: status.seconds, unit: 's' }
  ]
}
