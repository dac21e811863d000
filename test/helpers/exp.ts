import { execFileSync } from 'node:child_process'
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import type { ExpRow } from '@mlp/proto'
import { mlpJson } from './cli.js'
import type { TestDaemon } from './daemons.js'

// What the experiment tests share: git with a fixed identity, daemons on
// 127.0.0.1 without mDNS, a one-stage training pipeline.

/** A git identity, so commits work on any machine. */
export const GIT_ENV = { GIT_AUTHOR_NAME: 't', GIT_AUTHOR_EMAIL: 't@example.com', GIT_COMMITTER_NAME: 't', GIT_COMMITTER_EMAIL: 't@example.com' }
/** `mlp daemon start` arguments: a free port on 127.0.0.1, no mDNS. */
export const LISTEN = ['--listen', '/ip4/127.0.0.1/tcp/0', '--no-mdns']

/** `git <args>` in `cwd`, its stdout. */
export function git (cwd: string, args: string[]): string {
  return execFileSync('git', args, { cwd, encoding: 'utf8', env: { ...process.env, ...GIT_ENV }, stdio: ['ignore', 'pipe', 'pipe'] })
}

/**
 * A one-stage training pipeline: the model depends on the lr param and on a
 * constant in train.js; `before` runs first in the stage's command (a
 * `sleep`, to make the stage slow).
 */
export function writePipeline (proj: string, before = 'sleep 1'): void {
  writeFileSync(join(proj, 'params.yaml'), '# learning settings\ntrain:\n  lr: 0.1 # the step size\n  epochs: 3\n')
  writeFileSync(join(proj, 'train.js'), [
    "const fs = require('fs')",
    "const VARIANT = 'base'",
    'const lr = Number(process.argv[2])',
    "fs.writeFileSync('model.bin', (VARIANT + ' model trained with lr ' + lr + '\\n').repeat(2000))",
    "fs.writeFileSync('metrics.json', JSON.stringify({ acc: 1 - lr, variant: VARIANT }))"
  ].join('\n') + '\n')
  writeFileSync(join(proj, 'mlp.yaml'), `stages:
  train:
    cmd: ${before} && node train.js \${train.lr}
    deps: [train.js]
    params: [train.lr]
    outs: [model.bin]
    metrics: [metrics.json]
`)
}

/** `mlp exp show --json` of `d` in `cwd`. */
export async function rows (d: TestDaemon, cwd: string): Promise<ExpRow[]> {
  return await mlpJson<ExpRow[]>(d.home, ['exp', 'show'], { cwd })
}

/** `from` dials `to` and remembers it. */
export async function connect (from: TestDaemon, to: TestDaemon): Promise<void> {
  await mlpJson(from.home, ['peers', 'add', to.addrs[0]])
}

/** The project id `mlp init` wrote into `proj`. */
export function projectId (proj: string): string {
  const id = /project_id: ([0-9a-f]{32})/.exec(readFileSync(join(proj, '.mlp', 'config.yaml'), 'utf8'))?.[1]
  if (id == null) throw new Error(`no project id in ${proj}/.mlp/config.yaml`)
  return id
}
