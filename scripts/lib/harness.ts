import { execFile, execFileSync } from 'node:child_process'
import { existsSync, readFileSync, writeFileSync } from 'node:fs'
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
