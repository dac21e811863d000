import { execFile, execFileSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { MLP } from './harness.js'
import { prng } from './fuzz.js'

/** Result of one kind of crash scenario. */
export interface StressResult {
  op: 'add' | 'fetch' | 'gc' | 'repro'
  iterations: number
  /** Iterations where the kill landed while the operation was still running. */
  killedMidway: number
  verifyFailures: number
  lostAcknowledged: number
  /** Fetches that, after the restart, reused blocks stored before the kill. */
  resumed: number
  completedAfterRestart: number
  /** What failed, one line each (the CLI's own error), so that a failing run says why. */
  errors: string[]
}

interface Daemon { home: string, pid: number, addr: string }

interface CliResult { code: number, stdout: string, stderr: string }

function cli (home: string, args: string[], cwd?: string): Promise<CliResult> {
  return new Promise((resolve) => {
    execFile(process.execPath, [MLP, ...args], { cwd, env: { ...process.env, MLP_HOME: home }, maxBuffer: 64 << 20 }, (err, stdout, stderr) => {
      resolve({ code: err == null ? 0 : 1, stdout, stderr })
    })
  })
}

function firstLine (r: CliResult): string {
  return r.stderr.trim().split('\n')[0] ?? `exit ${r.code}`
}

async function start (home: string): Promise<Daemon> {
  const r = await cli(home, ['daemon', 'start', '--listen', '/ip4/127.0.0.1/tcp/0', '--no-mdns', '--json'])
  if (r.code !== 0) throw new Error(`daemon for ${home} did not start`)
  const s = JSON.parse(r.stdout) as { pid: number, addrs: string[] }
  return { home, pid: s.pid, addr: s.addrs[0] }
}

function kill (pid: number): void {
  try {
    process.kill(pid, 'SIGKILL')
  } catch {}
}

/**
 * Kills a daemon with SIGKILL at random moments during add, fetch, gc and
 * repro, restarts it, and checks that `mlp verify` passes, that everything
 * acknowledged before the kill is still there, and that an interrupted fetch
 * resumes without fetching again what it had stored.
 */
export async function runStress (iterations: number, seed: number, log: (line: string) => void = () => {}): Promise<StressResult[]> {
  const rand = prng(seed)
  const work = mkdtempSync(join(tmpdir(), 'mlp-stress-'))
  const started: Daemon[] = []
  const results: StressResult[] = []
  try {
    const seedD = await start(join(work, 'seed'))
    started.push(seedD)
    let victim = await start(join(work, 'victim'))
    started.push(victim)
    const restart = async (): Promise<void> => {
      victim = await start(victim.home)
      started.push(victim)
    }
    const proj = join(work, 'proj')
    mkdirSync(proj)
    execFileSync('git', ['init', '-q'], { cwd: proj })
    await cli(victim.home, ['init'], proj)
    const seedProj = join(work, 'seedproj')
    mkdirSync(seedProj)
    execFileSync('git', ['init', '-q'], { cwd: seedProj })
    await cli(seedD.home, ['init'], seedProj)
    writeFileSync(join(seedProj, 'dataset.bin'), randomBytes(300_000_000))
    const shared = (JSON.parse((await cli(seedD.home, ['share', 'dataset.bin', '--json'], seedProj)).stdout) as Array<{ cid: string }>)[0].cid
    const acknowledged: string[] = []

    const packBytes = (): number => {
      const dir = join(victim.home, 'store', 'packs')
      return readdirSync(dir).reduce((t, f) => t + statSync(join(dir, f)).size, 0)
    }
    const scenario = async (op: StressResult['op'], prepare: () => Promise<void>, run: () => ReturnType<typeof cli>, after: (killedMidway: boolean) => Promise<{ completed: boolean, resumed?: boolean, error?: string }>, waitFor?: (base: number) => boolean): Promise<void> => {
      const res: StressResult = { op, iterations, killedMidway: 0, verifyFailures: 0, lostAcknowledged: 0, resumed: 0, completedAfterRestart: 0, errors: [] }
      for (let i = 0; i < iterations; i++) {
        await prepare()
        let finished = false
        const base = packBytes()
        const running = run().then((r) => { finished = true; return r })
        // some scenarios first wait for a point worth crashing at (a fetch past its first commit)
        const ready = (): boolean => finished || waitFor == null || waitFor(base)
        for (let k = 0; k < 300 && !ready(); k++) await new Promise((resolve) => setTimeout(resolve, 20))
        await new Promise((resolve) => setTimeout(resolve, 20 + Math.floor(rand() * 400)))
        const midway = !finished
        kill(victim.pid)
        await running
        if (midway) res.killedMidway++
        await restart()
        const v = await cli(victim.home, ['verify', '--json'])
        if (v.code !== 0) {
          res.verifyFailures++
          res.errors.push(`#${i + 1} verify: ${firstLine(v)}`)
        }
        // every block of an acknowledged add is still here: a fetch finds nothing to ask for
        for (const cid of acknowledged) {
          const f = await cli(victim.home, ['fetch', cid, '--json'])
          if (f.code !== 0 || (JSON.parse(f.stdout) as Array<{ blocks: number }>)[0].blocks !== 0) {
            res.lostAcknowledged++
            res.errors.push(`#${i + 1} ${cid} lost: ${f.code !== 0 ? firstLine(f) : 'blocks had to be fetched again'}`)
          }
        }
        const a = await after(midway)
        if (a.completed) res.completedAfterRestart++
        else res.errors.push(`#${i + 1} after restart: ${a.error ?? 'did not complete'}`)
        if (a.resumed === true) res.resumed++
        log(`${op} #${i + 1}: killed ${midway ? 'midway' : 'after it finished'}; verify ${v.code === 0 ? 'ok' : 'FAILED'}; completed after restart: ${a.completed}${a.resumed != null ? `; resumed: ${a.resumed}` : ''}`)
      }
      results.push(res)
    }

    let n = 0
    await scenario('add', async () => { writeFileSync(join(proj, `f${++n}.bin`), randomBytes(80_000_000)) }, async () => await cli(victim.home, ['add', `f${n}.bin`], proj), async () => {
      const r = await cli(victim.home, ['add', `f${n}.bin`, '--json'], proj)
      if (r.code === 0) acknowledged.push((JSON.parse(r.stdout) as Array<{ cid: string }>)[0].cid)
      return { completed: r.code === 0, error: firstLine(r) }
    })

    await cli(victim.home, ['peers', 'add', seedD.addr])
    await scenario('fetch', async () => {
      // start from an empty store (a finished fetch pins what it got), connected to the seed
      await cli(victim.home, ['daemon', 'stop'])
      rmSync(join(victim.home, 'store'), { recursive: true, force: true })
      // the adds above are gone with the store: so are their pointers
      for (const f of readdirSync(proj)) if (/^f\d+\.bin\.mlp$/.test(f)) rmSync(join(proj, f))
      acknowledged.length = 0
      await restart()
      await cli(victim.home, ['peers', 'add', seedD.addr])
    }, async () => await cli(victim.home, ['fetch', shared]), async () => {
      await cli(victim.home, ['peers', 'add', seedD.addr])
      const r = await cli(victim.home, ['fetch', shared, '--json'])
      const f = r.code === 0 ? (JSON.parse(r.stdout) as Array<{ alreadyHad: number, blocks: number }>)[0] : undefined
      // the pin from a finished fetch would keep it; unpinned garbage for the next round
      return { completed: r.code === 0, resumed: f != null && f.alreadyHad > 1 && f.blocks > 0, error: firstLine(r) }
    }, (base) => packBytes() - base > 80_000_000)

    await scenario('gc', async () => {
      writeFileSync(join(proj, 'garbage.bin'), randomBytes(30_000_000))
      await cli(victim.home, ['add', 'garbage.bin'], proj)
      rmSync(join(proj, 'garbage.bin.mlp'))
    }, async () => await cli(victim.home, ['gc']), async () => {
      const r = await cli(victim.home, ['gc'])
      return { completed: r.code === 0, error: firstLine(r) }
    })

    writeFileSync(join(proj, 'mlp.yaml'), 'stages:\n  make:\n    cmd: head -c 30000000 /dev/urandom > out.bin && echo $RANDOM > side.txt\n    outs: [out.bin]\n    always_changed: true\n')
    await scenario('repro', async () => {}, async () => await cli(victim.home, ['repro'], proj), async () => {
      const r = await cli(victim.home, ['repro'], proj)
      const st = await cli(victim.home, ['status', '--json'], proj)
      const clean = st.code === 0 && (JSON.parse(st.stdout) as { stages: Array<{ reasons: string[] }> }).stages.every((s) => s.reasons.every((x) => x === 'always_changed'))
      return { completed: r.code === 0 && clean, error: r.code !== 0 ? firstLine(r) : `status after repro: ${st.stdout.trim() || firstLine(st)}` }
    })
  } finally {
    for (const d of started) {
      try {
        execFileSync(process.execPath, [MLP, 'daemon', 'stop'], { env: { ...process.env, MLP_HOME: d.home }, stdio: 'ignore', timeout: 20_000 })
      } catch {
        kill(d.pid)
      }
    }
    rmSync(work, { recursive: true, force: true })
  }
  return results
}
