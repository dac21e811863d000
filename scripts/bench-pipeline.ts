import { execFileSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { mlp, type Figure } from './lib/harness.js'

const STAGES = 50
const FILES_PER_STAGE = 100
const FILE_BYTES = Math.floor((1024 * 1024 * 1024) / (STAGES * FILES_PER_STAGE))

/** Pipeline figures of issue 5: a 50-stage pipeline over 1 GiB in 5,000 files. */
export async function benchPipeline (work: string, home: string): Promise<Figure[]> {
  const proj = join(work, 'pproj')
  mkdirSync(proj)
  execFileSync('git', ['init', '-q'], { cwd: proj })
  await mlp(home, ['init'], proj)
  const stages: string[] = []
  for (let s = 0; s < STAGES; s++) {
    const dir = join(proj, 'data', `d${s}`)
    mkdirSync(dir, { recursive: true })
    for (let f = 0; f < FILES_PER_STAGE; f++) writeFileSync(join(dir, `f${f}.bin`), randomBytes(FILE_BYTES))
    stages.push(`  s${s}:\n    cmd: ls data/d${s} | wc -l > out/${s}.txt\n    deps: [data/d${s}]\n    outs: [out/${s}.txt]\n`)
  }
  mkdirSync(join(proj, 'out'))
  writeFileSync(join(proj, 'mlp.yaml'), `stages:\n${stages.join('')}`)
  await new Promise((resolve) => setTimeout(resolve, 300))
  const first = await mlp(home, ['repro', '--json'], proj)
  const noop = await mlp(home, ['repro', '--json'], proj)
  const ran = (JSON.parse(noop.stdout) as Array<{ status: string }>).filter((o) => o.status !== 'skipped').length
  const dry = await mlp(home, ['repro', '--dry', '--json'], proj)
  const status = await mlp(home, ['status', '--json'], proj)
  return [
    { name: `first mlp repro, ${STAGES} stages over 1 GiB in ${STAGES * FILES_PER_STAGE} files`, value: first.seconds, unit: 's' },
    { name: `no-op mlp repro of the same (${ran} stages ran)`, value: noop.seconds, unit: 's', target: '<= 0.5 s' },
    { name: 'mlp repro --dry of the same', value: dry.seconds, unit: 's' },
    { name: 'mlp status of the same', value: status.seconds, unit: 's' }
  ]
}
