import '@mlp/proto/polyfill'
import { execFileSync } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fuzzApi, fuzzWire } from './lib/fuzz.js'
import { fuzzDagDecoder, fuzzPathRules } from './lib/fuzz-dag.js'
import { MLP } from './lib/harness.js'

// `npm run fuzz [-- <count> <seed>]`: every wire-message decoder, the DAG
// decoder, the safe writer's path rules and the local API request parser,
// `count` generated inputs each (default 100,000).
const count = Number(process.argv[2] ?? 100_000)
const seed = Number(process.argv[3] ?? Date.now() % 1e9)
const work = mkdtempSync(join(tmpdir(), 'mlp-fuzz-'))
const home = join(work, 'home')
let failed = false
try {
  let t = performance.now()
  const wire = fuzzWire(count, seed)
  process.stdout.write(`wire decoder: ${count} inputs (seed ${seed}) in ${((performance.now() - t) / 1000).toFixed(1)} s: ${wire.decoded} decoded, ${wire.rejected} rejected with WireError, ${wire.failures.length} other failures\n`)
  for (const f of wire.failures.slice(0, 10)) process.stdout.write(`  ${f}\n`)
  t = performance.now()
  const dag = fuzzDagDecoder(count, seed)
  process.stdout.write(`DAG decoder: ${count} directory nodes in ${((performance.now() - t) / 1000).toFixed(1)} s: ${dag.accepted} decoded with safe names, ${dag.rejected} rejected with InvalidDagError, ${dag.failures.length} other failures\n`)
  for (const f of dag.failures.slice(0, 10)) process.stdout.write(`  ${f}\n`)
  t = performance.now()
  const paths = fuzzPathRules(count, seed)
  process.stdout.write(`path rules: ${count} names and ${count} paths in ${((performance.now() - t) / 1000).toFixed(1)} s: ${paths.accepted} accepted, ${paths.rejected} refused, ${paths.failures.length} escapes\n`)
  for (const f of paths.failures.slice(0, 10)) process.stdout.write(`  ${f}\n`)
  execFileSync(process.execPath, [MLP, 'daemon', 'start', '--listen', '/ip4/127.0.0.1/tcp/0', '--no-mdns'], { env: { ...process.env, MLP_HOME: home }, stdio: 'ignore' })
  t = performance.now()
  const api = await fuzzApi(join(home, 'api.sock'), work, count, seed)
  process.stdout.write(`local API: ${count} requests in ${((performance.now() - t) / 1000).toFixed(1)} s: ${api.results} results, errors ${JSON.stringify(api.errors)}, ${api.failures.length} failures\n`)
  for (const f of api.failures.slice(0, 10)) process.stdout.write(`  ${f}\n`)
  execFileSync(process.execPath, [MLP, 'id'], { env: { ...process.env, MLP_HOME: home }, stdio: 'ignore' })
  process.stdout.write('daemon still answers after the fuzzing\n')
  failed = wire.failures.length > 0 || dag.failures.length > 0 || paths.failures.length > 0 || api.failures.length > 0
} finally {
  try {
    execFileSync(process.execPath, [MLP, 'daemon', 'stop'], { env: { ...process.env, MLP_HOME: home }, stdio: 'ignore' })
  } catch {}
  if (process.env.MLP_FUZZ_KEEP == null) rmSync(work, { recursive: true, force: true })
  else process.stdout.write(`kept ${work}\n`)
}
process.exitCode = failed ? 1 : 0
