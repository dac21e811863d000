import { execFileSync, spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, rmSync, writeFileSync, writeSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { mlp, peakRssMb, timeCommand, type Figure } from './lib/harness.js'

const MiB = 1024 * 1024
const RAW = fileURLToPath(new URL('./raw-stream.js', import.meta.url))

interface Daemon { home: string, pid: number, addr: string, peerId: string }

async function startDaemon (home: string): Promise<Daemon> {
  const r = await mlp(home, ['daemon', 'start', '--listen', '/ip4/127.0.0.1/tcp/0', '--no-mdns', '--json'])
  const s = JSON.parse(r.stdout) as { pid: number, addrs: string[], peerId: string }
  return { home, pid: s.pid, addr: s.addrs[0], peerId: s.peerId }
}

/** One raw libp2p stream of `bytes` between two processes, in seconds. */
async function rawStream (bytes: number, chunk: number): Promise<number> {
  const server = spawn(process.execPath, [RAW, 'serve'], { stdio: ['ignore', 'pipe', 'inherit'] })
  try {
    const addr = await new Promise<string>((resolve) => { server.stdout.once('data', (d: Buffer) => { resolve(d.toString().trim()) }) })
    return Number(execFileSync(process.execPath, [RAW, 'send', addr, String(bytes), String(chunk)]).toString())
  } finally {
    server.kill('SIGTERM')
  }
}

interface Fetched { bytes: number, blocks: number, fromPeers: Record<string, { blocks: number }> }

/** Exchange figures of issue 4; daemons are started here and stopped by `stopAll`. */
export async function benchExchange (work: string, started: Array<{ home: string, pid: number }>): Promise<Figure[]> {
  const figures: Figure[] = []
  const daemon = async (name: string): Promise<Daemon> => {
    const d = await startDaemon(join(work, name))
    started.push(d)
    return d
  }
  const [seed, fetcher] = [await daemon('seed'), await daemon('fetcher')]
  await mlp(fetcher.home, ['peers', 'add', seed.addr])
  const proj = join(work, 'xproj')
  mkdirSync(proj)
  execFileSync('git', ['init', '-q'], { cwd: proj })
  await mlp(seed.home, ['init'], proj)
  const size = 1024 * MiB
  const fd = openSync(join(proj, 'big.bin'), 'w')
  for (let done = 0; done < size; done += 64 * MiB) writeSync(fd, randomBytes(64 * MiB))
  closeSync(fd)
  const [shared] = JSON.parse((await mlp(seed.home, ['share', 'big.bin', '--json'], proj)).stdout) as Array<{ cid: string }>

  const raw = await rawStream(size, MiB)
  const raw64 = await rawStream(size, 64 * 1024)
  const f = await mlp(fetcher.home, ['fetch', shared.cid, '--json'])
  const fetched = (JSON.parse(f.stdout) as Fetched[])[0]
  figures.push({ name: 'mlp fetch, 1 GiB from one daemon (127.0.0.1)', value: fetched.bytes / 1e6 / f.seconds, unit: 'MB/s', limit: { name: 'raw libp2p stream, 1 MiB writes', value: size / 1e6 / raw, unit: 'MB/s' }, target: '>= 80% of raw and >= 300 MB/s' })
  figures.push({ name: 'raw libp2p stream, 64 KiB writes', value: size / 1e6 / raw64, unit: 'MB/s' })
  figures.push({ name: 'fetching daemon peak RSS (1 GiB fetch)', value: peakRssMb(fetcher.pid), unit: 'MB' })
  // a fetch stores durably: the disk's own limit, measured the same way as for add
  const dd = timeCommand('dd', [`if=${join(proj, 'big.bin')}`, `of=${join(work, 'dd.bin')}`, 'bs=8M', 'conv=fdatasync', 'status=none'])
  rmSync(join(work, 'dd.bin'))
  figures.push({ name: 'copy of the 1 GiB file with fdatasync (this disk\'s durable write limit)', value: size / 1e6 / dd, unit: 'MB/s' })
  // the same fetch into a store in RAM: what the exchange does when the disk is not the limit
  if (existsSync('/dev/shm')) {
    const ram = mkdtempSync('/dev/shm/mlp-bench-')
    try {
      const inRam = await startDaemon(join(ram, 'fetcher'))
      try {
        await mlp(inRam.home, ['peers', 'add', seed.addr])
        const r = await mlp(inRam.home, ['fetch', shared.cid, '--json'])
        figures.push({ name: 'mlp fetch, the same 1 GiB into a store on tmpfs (no disk)', value: size / 1e6 / r.seconds, unit: 'MB/s', limit: { name: 'raw libp2p stream, 1 MiB writes', value: size / 1e6 / raw, unit: 'MB/s' } })
      } finally {
        // stopped here, before its home goes: the RAM must be given back
        await mlp(inRam.home, ['daemon', 'stop']).catch(() => { process.kill(inRam.pid, 'SIGKILL') })
      }
    } finally {
      rmSync(ram, { recursive: true, force: true })
    }
  }

  // 10,000 small files
  const small = join(proj, 'small')
  for (let d = 0; d < 100; d++) {
    mkdirSync(join(small, `d${d}`), { recursive: true })
    for (let i = 0; i < 100; i++) writeFileSync(join(small, `d${d}`, `f${i}.bin`), randomBytes(4096 + ((d * 100 + i) * 997) % (60 * 1024)))
  }
  const [dir] = JSON.parse((await mlp(seed.home, ['share', 'small', '--json'], proj)).stdout) as Array<{ cid: string }>
  const fs = await mlp(fetcher.home, ['fetch', dir.cid, '--json'])
  figures.push({ name: 'mlp fetch, directory of 10,000 files of 4-64 KiB', value: 10_000 / fs.seconds, unit: 'files/s', target: '>= 3000 files/s' })

  // four holders (the seed, the first fetcher and two more), one fetcher;
  // each holder shares the root, as the seed did: strangers read only shared data
  const [h2, h3, late] = [await daemon('holder2'), await daemon('holder3'), await daemon('late')]
  for (const h of [h2, h3]) {
    await mlp(h.home, ['peers', 'add', seed.addr])
    await mlp(h.home, ['fetch', shared.cid])
  }
  for (const h of [fetcher, h2, h3]) await mlp(h.home, ['share', shared.cid])
  for (const h of [seed, fetcher, h2, h3]) await mlp(late.home, ['peers', 'add', h.addr])
  const m = await mlp(late.home, ['fetch', shared.cid, '--json'])
  const multi = (JSON.parse(m.stdout) as Fetched[])[0]
  const shares = Object.values(multi.fromPeers).map((p) => (p.blocks / multi.blocks) * 100).sort((a, b) => b - a)
  figures.push({ name: `mlp fetch, 1 GiB from ${shares.length} holders (shares ${shares.map((s) => s.toFixed(0) + '%').join(' / ')})`, value: multi.bytes / 1e6 / m.seconds, unit: 'MB/s', target: 'balanced shares' })
  return figures
}
