import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'

/** Lines of the run log the test stages append to. */
export function runs (proj: string): string[] {
  try {
    return readFileSync(join(proj, 'runs.log'), 'utf8').trim().split('\n').filter((l) => l !== '')
  } catch {
    return []
  }
}

/**
 * A four-stage pipeline of shell and node commands: prepare -> split ->
 * train -> evaluate. Each stage appends its name to runs.log (not an out), so
 * a test can see exactly which stages ran.
 */
export function writeFourStagePipeline (proj: string): void {
  // the run log is the test's record of what ran, not part of the project
  writeFileSync(join(proj, '.gitignore'), '/runs.log\n')
  writeFileSync(join(proj, 'params.yaml'), 'split:\n  ratio: 0.8\ntrain:\n  lr: 0.1\n  epochs: 3\n')
  writeFileSync(join(proj, 'raw.csv'), Array.from({ length: 200 }, (_, i) => `${i},${(i * 37) % 101}`).join('\n') + '\n')
  writeFileSync(join(proj, 'train.js'), [
    "const fs = require('fs')",
    "const rows = fs.readFileSync('train.csv', 'utf8').trim().split('\\n').map((l) => l.split(',').map(Number))",
    'const lr = Number(process.argv[2])',
    'let w = 0',
    'for (let e = 0; e < 3; e++) for (const [x, y] of rows) w += lr * (y - w * x) * x / 1e6',
    "fs.writeFileSync('model.json', JSON.stringify({ w }))",
    "fs.appendFileSync('runs.log', 'train\\n')"
  ].join('\n') + '\n')
  writeFileSync(join(proj, 'mlp.yaml'), `stages:
  prepare:
    cmd: sort -t, -k2 -n raw.csv > clean.csv && echo prepare >> runs.log
    deps: [raw.csv]
    outs: [clean.csv]
  split:
    cmd: head -n 160 clean.csv > train.csv && tail -n 40 clean.csv > test.csv && echo split >> runs.log
    deps: [clean.csv]
    params: [split.ratio]
    outs: [train.csv, test.csv]
  train:
    cmd: node train.js \${train.lr}
    deps: [train.csv, train.js]
    params: [train.lr, train.epochs]
    outs: [model.json]
  evaluate:
    cmd: node -e "const m=require('./model.json');require('fs').writeFileSync('metrics.json',JSON.stringify({w:m.w,rows:40}))" && echo evaluate >> runs.log
    deps: [model.json, test.csv]
    metrics: [metrics.json]
`)
}
