import '@mlp/proto/polyfill'
import { execFile, execFileSync } from 'node:child_process'
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { MLP } from './lib/harness.js'

// `npm run demo`: the user's day from DESIGN.md on one machine, with three
// daemons (alice, bob: no GPU; gpu-box: the real GPU if nvidia-smi works,
// else a fake nvidia-smi printing output captured on a real H200). Every step
// prints the command it runs; any failure stops the demo with a non-zero exit;
// every daemon is stopped and every file removed at the end.
const FAKE_NVIDIA_SMI = fileURLToPath(new URL('../../test/fixtures/nvidia-smi', import.meta.url))
// mlp interpolates ${...} from params.yaml, like DVC
// eslint-disable-next-line no-template-curly-in-string
const TRAIN_CMD = 'node train.js ${train.lr} ${train.epochs}'
const root = mkdtempSync(join(tmpdir(), 'mlp-demo-'))
const started: Array<{ name: string, home: string, pid: number }> = []

interface Who { name: string, home: string, env?: NodeJS.ProcessEnv }

const bold = process.stdout.isTTY === true && process.env.NO_COLOR == null
function say (text: string): void {
  process.stdout.write(bold ? `\n\x1b[1m== ${text}\x1b[0m\n` : `\n== ${text}\n`)
}

async function mlp (who: Who, args: string[], cwd?: string): Promise<string> {
  process.stdout.write(`${who.name}$ mlp ${args.join(' ')}\n`)
  return await new Promise((resolve, reject) => {
    const child = execFile(process.execPath, [MLP, ...args], { cwd, env: { ...process.env, ...who.env, MLP_HOME: who.home }, maxBuffer: 64 << 20 }, (err, stdout) => {
      if (err != null) reject(new Error(`${who.name}: mlp ${args.join(' ')} failed`))
      else resolve(stdout)
    })
    child.stdout?.on('data', (d: Buffer) => { if (!args.includes('--json')) process.stdout.write(d.toString().replace(/^(?=.)/gm, '    ')) })
    child.stderr?.on('data', (d: Buffer) => { process.stdout.write(d.toString().replace(/^(?=.)/gm, '    ')) })
  })
}

function sh (who: string, cmd: string, args: string[], cwd: string): void {
  process.stdout.write(`${who}$ ${cmd} ${args.join(' ')}\n`)
  execFileSync(cmd, args, { cwd, stdio: 'inherit' })
}

function realGpu (): boolean {
  try {
    execFileSync('nvidia-smi', ['-L'], { stdio: 'ignore', timeout: 10_000 })
    return true
  } catch {
    return false
  }
}

async function main (): Promise<void> {
  const gpuReal = realGpu()
  const alice: Who = { name: 'alice', home: join(root, 'alice-home') }
  const bob: Who = { name: 'bob', home: join(root, 'bob-home') }
  const gpu: Who = { name: 'gpu-box', home: join(root, 'gpu-home'), env: gpuReal ? {} : { PATH: `${FAKE_NVIDIA_SMI}:${process.env.PATH ?? ''}` } }
  say(`three daemons on 127.0.0.1; gpu-box uses ${gpuReal ? 'this machine\'s real GPU (nvidia-smi works)' : 'a fake nvidia-smi printing output captured on a real NVIDIA H200 (no GPU here)'}`)
  const addr: Record<string, string> = {}
  const id: Record<string, string> = {}
  for (const who of [alice, bob, gpu]) {
    const s = JSON.parse(await mlp(who, ['daemon', 'start', '--listen', '/ip4/127.0.0.1/tcp/0', '--no-mdns', '--json'])) as { pid: number, addrs: string[], peerId: string }
    started.push({ name: who.name, home: who.home, pid: s.pid })
    addr[who.name] = s.addrs[0]
    id[who.name] = s.peerId
  }
  say('teammates connect (on a LAN mDNS does this by itself); gpu-box lets alice and bob run stages, and they trust its results')
  await mlp(alice, ['peers', 'add', addr['gpu-box']])
  await mlp(bob, ['peers', 'add', addr.alice])
  await mlp(bob, ['peers', 'add', addr['gpu-box']])
  // running code needs both sides: gpu-box lets them run stages, they believe gpu-box's signed results
  await mlp(gpu, ['trust', 'add', id.alice, '--run'])
  await mlp(gpu, ['trust', 'add', id.bob, '--run'])
  await mlp(alice, ['trust', 'add', id['gpu-box'], '--results'])
  await mlp(bob, ['trust', 'add', id['gpu-box'], '--results'])
  // alice and bob read each other's data (a shared swarm key would do it for the whole team: `mlp team create`)
  await mlp(alice, ['team', 'add', id.bob])
  await mlp(bob, ['team', 'add', id.alice])
  await mlp(alice, ['peers'])
  await mlp(alice, ['team', 'ls'])

  say('alice versions a dataset')
  const proj = join(root, 'alice', 'project')
  mkdirSync(join(proj, 'data', 'raw'), { recursive: true })
  sh('alice', 'git', ['init', '-q'], proj)
  await mlp(alice, ['init'], proj)
  let x = 1
  for (let f = 0; f < 4; f++) {
    const rows = ['x,y']
    for (let i = 0; i < 500; i++) {
      x = (x * 1103515245 + 12345) % 2147483648
      const v = (x % 1000) / 100
      rows.push(`${v},${(3 * v + 2 + ((x >> 8) % 100) / 100).toFixed(3)}`)
    }
    writeFileSync(join(proj, 'data', 'raw', `part${f}.csv`), rows.join('\n') + '\n')
  }
  await mlp(alice, ['add', 'data/raw'], proj)

  say('alice writes a three-stage pipeline: prepare -> train (needs a GPU) -> evaluate')
  writeFileSync(join(proj, 'params.yaml'), 'train:\n  lr: 0.01\n  epochs: 200\n')
  writeFileSync(join(proj, 'prepare.js'), `const fs = require('fs')
const rows = fs.readdirSync('data/raw').sort().flatMap((f) => fs.readFileSync('data/raw/' + f, 'utf8').trim().split('\\n').slice(1))
fs.mkdirSync('data', { recursive: true })
fs.writeFileSync('data/clean.csv', rows.filter((r) => !r.includes('NaN')).join('\\n') + '\\n')
console.log('prepared', rows.length, 'rows')
`)
  writeFileSync(join(proj, 'train.js'), `const fs = require('fs')
const [lr, epochs] = process.argv.slice(2).map(Number)
const rows = fs.readFileSync('data/clean.csv', 'utf8').trim().split('\\n').map((r) => r.split(',').map(Number))
let w = 0; let b = 0
for (let e = 1; e <= epochs; e++) {
  let gw = 0; let gb = 0
  for (const [x, y] of rows) { const err = w * x + b - y; gw += err * x; gb += err }
  w -= lr * gw / rows.length; b -= lr * gb / rows.length
  if (e % 50 === 0) console.log('epoch', e, 'w', w.toFixed(4), 'b', b.toFixed(4))
}
console.log('trained on', process.env.MLP_EXECUTOR_PEER_ID, 'CUDA_VISIBLE_DEVICES=' + process.env.CUDA_VISIBLE_DEVICES)
fs.writeFileSync('model.json', JSON.stringify({ w, b }))
`)
  writeFileSync(join(proj, 'evaluate.js'), `const fs = require('fs')
const { w, b } = JSON.parse(fs.readFileSync('model.json', 'utf8'))
const rows = fs.readFileSync('data/clean.csv', 'utf8').trim().split('\\n').map((r) => r.split(',').map(Number))
const mse = rows.reduce((s, [x, y]) => s + (w * x + b - y) ** 2, 0) / rows.length
fs.writeFileSync('metrics.json', JSON.stringify({ mse: Number(mse.toFixed(5)), w: Number(w.toFixed(4)), b: Number(b.toFixed(4)) }))
console.log('mse', mse.toFixed(5))
`)
  await mlp(alice, ['stage', 'add', '-n', 'prepare', '-d', 'data/raw', '-d', 'prepare.js', '-o', 'data/clean.csv', 'node', 'prepare.js'], proj)
  await mlp(alice, ['stage', 'add', '-n', 'train', '-d', 'data/clean.csv', '-d', 'train.js', '-p', 'train.lr', '-p', 'train.epochs', '-o', 'model.json', '--gpu', '1', TRAIN_CMD], proj)
  await mlp(alice, ['stage', 'add', '-n', 'evaluate', '-d', 'model.json', '-d', 'data/clean.csv', '-d', 'evaluate.js', '-M', 'metrics.json', 'node', 'evaluate.js'], proj)
  await mlp(alice, ['dag'], proj)

  say('alice reproduces: prepare runs here, train on gpu-box with its log streamed back, evaluate here')
  await mlp(alice, ['repro'], proj)
  const model = JSON.parse(readFileSync(join(proj, 'model.json'), 'utf8')) as { w: number }
  if (!(Math.abs(model.w - 3) < 0.5)) throw new Error(`training did not converge (w = ${model.w})`)
  if (!readFileSync(join(proj, 'mlp.lock'), 'utf8').includes(`ran_on: ${id['gpu-box']}`)) throw new Error('mlp.lock does not say train ran on gpu-box')
  sh('alice', 'git', ['add', '-A'], proj)
  sh('alice', 'git', ['-c', 'user.name=alice', '-c', 'user.email=alice@lab', 'commit', '-qm', 'data and pipeline'], proj)

  say('bob clones, pulls the data from his peers, and has nothing to rerun')
  const clone = join(root, 'bob', 'project')
  mkdirSync(join(root, 'bob'), { recursive: true })
  sh('bob', 'git', ['clone', '-q', proj, clone], root)
  await mlp(bob, ['pull'], clone)
  const outcomes = JSON.parse(await mlp(bob, ['repro', '--json'], clone)) as Array<{ stage: string, status: string }>
  for (const o of outcomes) process.stdout.write(`    ${o.stage}: ${o.status}\n`)
  if (outcomes.some((o) => o.status !== 'skipped')) throw new Error('bob\'s repro should have had nothing to do')
  await mlp(bob, ['metrics', 'show'], clone)
  await mlp(bob, ['status'], clone)
}

async function cleanup (): Promise<void> {
  for (const d of started) {
    try {
      execFileSync(process.execPath, [MLP, 'daemon', 'stop'], { env: { ...process.env, MLP_HOME: d.home }, stdio: 'ignore', timeout: 30_000 })
    } catch {
      try {
        process.kill(d.pid, 'SIGKILL')
      } catch {
        // already gone
      }
    }
  }
  rmSync(root, { recursive: true, force: true })
}

const t0 = Date.now()
try {
  await main()
  say(`demo done in ${((Date.now() - t0) / 1000).toFixed(1)} s`)
} catch (err) {
  process.stderr.write(`\ndemo failed: ${(err as Error).message}\n`)
  process.exitCode = 1
} finally {
  await cleanup()
}
