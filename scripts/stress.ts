import '@mlp/proto/polyfill'
import { runStress } from './lib/stress.js'

// `npm run stress [-- <iterations> <seed>]`: kill -9 at random moments during
// add, fetch, gc and repro (20 iterations each by default).
const iterations = Number(process.argv[2] ?? 20)
const seed = Number(process.argv[3] ?? Date.now() % 1e9)
const t0 = Date.now()
const results = await runStress(iterations, seed, (line) => { process.stdout.write(line + '\n') })
process.stdout.write(`\nseed ${seed}, ${((Date.now() - t0) / 1000).toFixed(0)} s\n\n| operation | iterations | killed midway | verify failures | acknowledged blocks lost | completed after restart | fetches resumed |\n|---|---|---|---|---|---|---|\n`)
for (const r of results) process.stdout.write(`| ${r.op} | ${r.iterations} | ${r.killedMidway} | ${r.verifyFailures} | ${r.lostAcknowledged} | ${r.completedAfterRestart} | ${r.op === 'fetch' ? r.resumed : '-'} |\n`)
process.exitCode = results.some((r) => r.verifyFailures > 0 || r.lostAcknowledged > 0 || r.completedAfterRestart < r.iterations) ? 1 : 0
for (const r of results) for (const e of r.errors) process.stdout.write(`${r.op} ${e}\n`)
