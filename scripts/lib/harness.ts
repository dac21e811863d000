import { execFile, execFileSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { closeSync, existsSync, openSync, readFileSync, writeFileSync, writeSync } from 'node:fs'
import { fileURLToPath } from 'node:url'

/** The real CLI, as users run it: this file runs from scripts/dist/lib/ (npm run ...) or scripts/lib/ (tests). */
export const MLP = [new URL('../../../packages/cli/bin/run.js', import.meta.url), new URL('../../packages/cli/bin/run.js', import.meta.url)]
  .map((u) => fileURLToPath(u))
  .find((p) => existsSync(p)) as string

/** Runs `mlp` and returns stdout and the wall time in seconds; throws with stderr on failure. */
export async function mlp (home: string, args: string[], cwd?: string): Promise<{ stdout: string, seconds: number }> {
  const start = performance.now()
  return await new Promise((resolve, reject) => {
    execFile(process.execPath, [MLP, ...args], { cwd, env: { ...process.env, MLP_HOME: home }, maxBuffer: 256 << 20 }, (err, stdout, stderr) => {
      if (err != null) reject(new Error(`mlp ${args.join(' ')}: ${stderr}`))
      else resolve({ stdout, seconds: (performance.now() - start) / 1000 })
    })
  })
}

/** Wall time of a shell-free command, in seconds. */
export function timeCommand (cmd: string, args: string[]): number {
  const start = performance.now()
  execFileSync(cmd, args, { stdio: 'ignore' })
  return (performance.now() - start) / 1000
}

/** Peak resident memory of a process so far (VmHWM), in MB. */
export function peakRssMb (pid: number): number {
  const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
  return m == null ? Number.NaN : Number(m[1]) / 1024
}

/** Starts a new peak for {@link peakRssMb} (Linux: writing 5 to clear_refs resets VmHWM). */
export function resetPeakRss (pid: number): void {
  writeFileSync(`/proc/${pid}/clear_refs`, '5')
}

/** One row of the report. */
export interface Figure {
  name: string
  value: number
  unit: string
  /** The physical limit measured in the same run, if any. */
  limit?: { name: string, value: number, unit: string }
  target?: string
}

/** Renders figures as a markdown table. */
export function table (figures: Figure[]): string {
  const rows = figures.map((f) => `| ${f.name} | ${f.value.toFixed(f.value >= 100 ? 0 : 2)} ${f.unit} | ${f.limit == null ? '' : `${f.limit.name}: ${f.limit.value.toFixed(f.limit.value >= 100 ? 0 : 2)} ${f.limit.unit}`} | ${f.target ?? ''} |`)
  return ['| figure | measured | limit measured in the same run | target |', '|---|---|---|---|', ...rows].join('\n')
}

const MiB = 1024 * 1024

/**
 * Bytes of the benchmarks' "1 GiB" file: MLP_BENCH_SIZE_MIB (default 1024)
 * MiB, so that a change to a benchmark can be tried in seconds with a small
 * size; the figures' names print the size used ({@link sizeName}).
 */
export function benchSize (): number {
  const mib = Number(process.env.MLP_BENCH_SIZE_MIB ?? 1024)
  if (!Number.isInteger(mib) || mib <= 0) throw new Error(`MLP_BENCH_SIZE_MIB must be a whole number of MiB, not ${process.env.MLP_BENCH_SIZE_MIB ?? ''}`)
  return mib * MiB
}

/** A size as figures name it: "1 GiB", "4 GiB", "32 MiB". */
export function sizeName (bytes: number): string {
  return bytes % (1024 * MiB) === 0 ? `${bytes / (1024 * MiB)} GiB` : `${+(bytes / MiB).toFixed(1)} MiB`
}

/** Writes `bytes` random bytes to `path`, 64 MiB at a time (random data: nothing to dedup or compress). */
export function writeRandomFile (path: string, bytes: number): void {
  const fd = openSync(path, 'w')
  for (let done = 0; done < bytes; done += 64 * MiB) writeSync(fd, randomBytes(Math.min(64 * MiB, bytes - done)))
  closeSync(fd)
}

/** The median of some runs' values (the mean of the middle two for an even count). */
export function median (values: number[]): number {
  const s = [...values].sort((a, b) => a - b)
  const mid = Math.floor(s.length / 2)
  return s.length % 2 === 1 ? s[mid] : (s[mid - 1] + s[mid]) / 2
}

/** Each run's value in run order, "95/98/97": a figure that is a median shows its spread in its name. */
export function runValues (values: number[]): string {
  return values.map((v) => v.toFixed(v >= 100 ? 0 : 1)).join('/')
}

/** `value` as a percentage of `limit`, "42%", for a figure's name. */
export function percentOf (value: number, limit: number): string {
  return `${Math.round((value / limit) * 100)}%`
}

let ticksPerSecond: number | undefined

/**
 * CPU seconds (user + system) a process has used so far, all its threads
 * together: /proc/<pid>/stat fields 14 and 15, in clock ticks.
 */
export function cpuSeconds (pid: number): number {
  ticksPerSecond ??= Number(execFileSync('getconf', ['CLK_TCK']).toString()) || 100
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
  // the command name (field 2) may hold spaces and parentheses: count fields after its closing one
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  return (Number(fields[14 - 3]) + Number(fields[15 - 3])) / ticksPerSecond
}
