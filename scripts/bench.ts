import '@mlp/proto/polyfill'
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { cpus, totalmem, tmpdir } from 'node:os'
import { join } from 'node:path'
import { benchStore } from './bench-store.js'
import { mlp, table, type Figure } from './lib/harness.js'

// `npm run bench`: every benchmark figure, each beside the limit measured in
// the same run, as a markdown table on stdout and JSON in bench-results/.
const work = mkdtempSync(join(process.env.MLP_BENCH_DIR ?? tmpdir(), 'mlp-bench-'))
const home = join(work, 'home')
let pid = 0
try {
  const started = await mlp(home, ['daemon', 'start', '--listen', '/ip4/127.0.0.1/tcp/0', '--no-mdns', '--json'])
  pid = (JSON.parse(started.stdout) as { pid: number }).pid
  const figures: Figure[] = await benchStore(work, home, pid)
  const machine = `${cpus().length} x ${cpus()[0]?.model ?? 'cpu'}, ${Math.round(totalmem() / 2 ** 30)} GiB RAM, Node ${process.version}`
  process.stdout.write(`\nmlp benchmarks (${new Date().toISOString()}, ${machine}, work dir ${work})\n\n${table(figures)}\n`)
  mkdirSync('bench-results', { recursive: true })
  writeFileSync(join('bench-results', 'bench.json'), JSON.stringify({ at: new Date().toISOString(), machine, figures }, null, 2) + '\n')
} finally {
  if (pid !== 0) await mlp(home, ['daemon', 'stop']).catch(() => { process.kill(pid, 'SIGKILL') })
  rmSync(work, { recursive: true, force: true })
}
