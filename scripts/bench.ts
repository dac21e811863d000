import '@mlp/proto/polyfill'
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { cpus, totalmem, tmpdir } from 'node:os'
import { join } from 'node:path'
import { benchBigDir } from './bench-bigdir.js'
import { benchExp } from './bench-exp.js'
import { benchExchange } from './bench-exchange.js'
import { benchPipeline } from './bench-pipeline.js'
import { benchStore } from './bench-store.js'
import { mlp, table, type Figure } from './lib/harness.js'

// `npm run bench`: every benchmark figure, each beside the limit measured in
// the same run, as a markdown table on stdout and JSON in bench-results/.
const work = mkdtempSync(join(process.env.MLP_BENCH_DIR ?? tmpdir(), 'mlp-bench-'))
const home = join(work, 'home')
let pid = 0
const extra: Array<{ home: string, pid: number }> = []
try {
  const started = await mlp(home, ['daemon', 'start', '--listen', '/ip4/127.0.0.1/tcp/0', '--no-mdns', '--json'])
  pid = (JSON.parse(started.stdout) as { pid: number }).pid
  const only = process.env.MLP_BENCH_ONLY
  const figures: Figure[] = []
  if (only == null || only === 'store') figures.push(...await benchStore(work, home, pid))
  if (only == null || only === 'pipeline') figures.push(...await benchPipeline(work, home))
  if (only == null || only === 'exchange') figures.push(...await benchExchange(work, extra))
  if (only == null || only === 'bigdir') figures.push(...await benchBigDir(work, extra))
  if (only == null || only === 'exp') figures.push(...await benchExp(work, home, pid, extra))
  const machine = `${cpus().length} x ${cpus()[0]?.model ?? 'cpu'}, ${Math.round(totalmem() / 2 ** 30)} GiB RAM, Node ${process.version}`
  process.stdout.write(`\nmlp benchmarks (${new Date().toISOString()}, ${machine}, work dir ${work})\n\n${table(figures)}\n`)
  mkdirSync('bench-results', { recursive: true })
  writeFileSync(join('bench-results', 'bench.json'), JSON.stringify({ at: new Date().toISOString(), machine, figures }, null, 2) + '\n')
} finally {
  for (const d of [{ home, pid }, ...extra]) {
    if (d.pid !== 0) await mlp(d.home, ['daemon', 'stop']).catch(() => { process.kill(d.pid, 'SIGKILL') })
  }
  rmSync(work, { recursive: true, force: true })
}
