import { execFileSync } from 'node:child_process'
import { mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { mlpJson } from './cli.js'
import { newProject, writeRandom } from './project.js'

// A project for `mlp diff` and `mlp report`: a tracked directory and a
// one-stage pipeline, committed as v1, then changed (a file added, one
// modified, one deleted, one renamed, a param changed, the stage rerun)
// and committed as v2.

const GIT_ENV = { GIT_AUTHOR_NAME: 't', GIT_AUTHOR_EMAIL: 't@example.com', GIT_COMMITTER_NAME: 't', GIT_COMMITTER_EMAIL: 't@example.com' }

/** Runs git in `cwd` with a fixed identity. */
export function git (cwd: string, args: string[]): string {
  return execFileSync('git', args, { cwd, encoding: 'utf8', env: { ...process.env, ...GIT_ENV }, stdio: ['ignore', 'pipe', 'pipe'] })
}

/** What v1 → v2 changed, as `mlp diff HEAD~1 HEAD` must list it. */
export const EXPECTED = {
  added: ['data/new.txt'],
  deleted: ['data/remove.txt'],
  modified: ['data/big.bin', 'history.csv', 'metrics.json', 'model/size.txt', 'model/weights.txt'],
  renamed: [{ from: 'data/move_me.bin', to: 'data/moved.bin' }]
}

/** Size of data/big.bin: several chunks, so its file root node's size differs from its link's Tsize. */
export const BIG = 300_000

/** Makes the project at v1 (committed). */
export async function reviewProjectV1 (home: string): Promise<string> {
  const proj = await newProject(home)
  const data = join(proj, 'data')
  mkdirSync(data)
  writeFileSync(join(data, 'keep.txt'), 'keep\n')
  writeFileSync(join(data, 'remove.txt'), 'remove me\n')
  writeRandom(join(data, 'move_me.bin'), 20_000)
  writeRandom(join(data, 'big.bin'), BIG)
  writeFileSync(join(proj, 'params.yaml'), 'train:\n  lr: 0.1\n')
  writeFileSync(join(proj, 'train.js'), [
    "const fs = require('fs')",
    'const lr = Number(process.argv[2])',
    "const bytes = fs.readdirSync('data').filter((n) => n.endsWith('.txt')).reduce((n, f) => n + fs.statSync('data/' + f).size, 0)",
    "fs.mkdirSync('model', { recursive: true })",
    "fs.writeFileSync('model/weights.txt', 'w ' + lr + '\\n')",
    "fs.writeFileSync('model/size.txt', String(bytes) + '\\n')",
    "fs.writeFileSync('metrics.json', JSON.stringify({ acc: lr === 0.1 ? 0.8 : 0.85, loss: lr === 0.1 ? 0.5 : 0.4 }))",
    "fs.writeFileSync('history.csv', 'epoch,loss\\n' + [1, 2, 3].map((e) => e + ',' + (1 / (e * lr * 10))).join('\\n') + '\\n')"
  ].join('\n') + '\n')
  writeFileSync(join(proj, 'mlp.yaml'), [
    'stages:',
    '  train:',
    // eslint-disable-next-line no-template-curly-in-string -- mlp.yaml's own templating, filled in by mlp
    '    cmd: node train.js ${train.lr}',
    '    deps: [data, train.js]',
    '    params: [train.lr]',
    '    outs: [model]',
    '    metrics: [metrics.json]',
    '    plots:',
    '      - history.csv: {x: epoch, y: loss, title: Loss by epoch}',
    '    meta:',
    '      mlp:',
    '        metrics: {acc: higher, loss: lower}',
    ''
  ].join('\n'))
  await mlpJson(home, ['add', 'data'], { cwd: proj })
  await mlpJson(home, ['repro'], { cwd: proj })
  git(proj, ['add', '-A'])
  git(proj, ['commit', '-q', '-m', 'v1'])
  return proj
}

/** Changes the project from v1 to v2 (data, a param, a rerun) and commits it. */
export async function reviewProjectV2 (home: string, proj: string): Promise<void> {
  const data = join(proj, 'data')
  writeFileSync(join(data, 'new.txt'), 'a new file, longer than the one removed\n')
  writeRandom(join(data, 'big.bin'), BIG)
  rmSync(join(data, 'remove.txt'))
  renameSync(join(data, 'move_me.bin'), join(data, 'moved.bin'))
  writeFileSync(join(proj, 'params.yaml'), 'train:\n  lr: 0.2\n')
  await mlpJson(home, ['add', 'data'], { cwd: proj })
  await mlpJson(home, ['repro'], { cwd: proj })
  git(proj, ['add', '-A'])
  git(proj, ['commit', '-q', '-m', 'v2'])
}

/** A diff's paths by kind, renames as `old -> new`. */
export interface DiffJson {
  a: { rev: string, commit?: string }
  b: { rev: string, commit?: string }
  added: Array<{ path: string, new: { cid: string, size: number } }>
  deleted: Array<{ path: string, old: { cid: string, size: number } }>
  modified: Array<{ path: string, old: { cid: string, size: number }, new: { cid: string, size: number } }>
  renamed: Array<{ path: string, oldPath: string }>
  summary: { added: number, deleted: number, modified: number, renamed: number, bytes: { added: number, deleted: number, modifiedOld: number, modifiedNew: number } }
  fetchedBlocks: number
}

/** The paths of a diff in the shape of {@link EXPECTED}. */
export function pathsOf (d: DiffJson): typeof EXPECTED {
  return {
    added: d.added.map((e) => e.path),
    deleted: d.deleted.map((e) => e.path),
    modified: d.modified.map((e) => e.path),
    renamed: d.renamed.map((e) => ({ from: e.oldPath, to: e.path }))
  }
}
