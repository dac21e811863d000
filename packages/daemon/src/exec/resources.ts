import { execFile } from 'node:child_process'
import { cpus, freemem, totalmem } from 'node:os'
import type { GpuInfo, Resources } from '@mlp/proto'

/** The `nvidia-smi --query-gpu` fields `parseGpus` reads, in its order (mlp doctor runs the same query). */
export const QUERY = 'index,uuid,name,memory.total,memory.used,memory.free,utilization.gpu,driver_version,pci.bus_id,compute_cap'

/** Parses `nvidia-smi --query-gpu=<QUERY> --format=csv,noheader,nounits` output: one GPU per line, fields split by ", ". */
export function parseGpus (text: string): GpuInfo[] {
  return text.split('\n').map((l) => l.trim()).filter((l) => l !== '').map((line) => {
    const f = line.split(', ')
    if (f.length < 10) throw new Error(`unexpected nvidia-smi line: ${line}`)
    const num = (s: string): number => {
      const n = Number(s)
      return Number.isFinite(n) ? n : 0
    }
    return {
      index: num(f[0]),
      uuid: f[1],
      name: f[2],
      memoryTotalMib: num(f[3]),
      memoryUsedMib: num(f[4]),
      memoryFreeMib: num(f[5]),
      utilizationPct: num(f[6]),
      driverVersion: f[7],
      computeCap: f[9]
    }
  })
}

/** The CUDA version from the plain `nvidia-smi` header (it is not a --query-gpu field). */
export function parseCudaVersion (text: string): string | undefined {
  return /CUDA Version:\s*([\d.]+)/.exec(text)?.[1]
}

async function run (args: string[]): Promise<string | undefined> {
  return await new Promise((resolve) => {
    execFile('nvidia-smi', args, { timeout: 10_000 }, (err, stdout) => { resolve(err == null ? stdout : undefined) })
  })
}

/**
 * What this machine offers. No nvidia-smi (ENOENT) or a failing one means no
 * GPU, not an error: most teammates' laptops have none.
 */
export async function detectResources (jobs: { running: number, queued: number }, simulatedGpus = 0): Promise<Resources> {
  const query = await run([`--query-gpu=${QUERY}`, '--format=csv,noheader,nounits'])
  let gpus: GpuInfo[] = []
  try {
    gpus = query == null ? [] : parseGpus(query)
  } catch {
    gpus = []
  }
  const cudaVersion = gpus.length > 0 ? parseCudaVersion((await run([])) ?? '') : undefined
  gpus.push(...simulatedGpuInfos(simulatedGpus, gpus.length))
  return { gpus, cudaVersion, cpus: cpus().length, memoryBytes: totalmem(), freeMemoryBytes: freemem(), runningJobs: jobs.running, queuedJobs: jobs.queued }
}

/** Memory a simulated GPU claims: enough for any `gpu_memory_mib` a tutorial asks. */
const SIMULATED_MEMORY_MIB = 16_384

/**
 * `n` stand-in GPUs (config `executor.simulatedGpus`), numbered after the
 * `firstIndex` real ones. Each is marked `simulated` and named so, so that no
 * listing or placement can take it for a real device.
 */
export function simulatedGpuInfos (n: number, firstIndex = 0): GpuInfo[] {
  return Array.from({ length: n }, (_, i) => ({
    index: firstIndex + i,
    uuid: `simulated-${firstIndex + i}`,
    name: 'simulated GPU',
    memoryTotalMib: SIMULATED_MEMORY_MIB,
    memoryUsedMib: 0,
    memoryFreeMib: SIMULATED_MEMORY_MIB,
    utilizationPct: 0,
    driverVersion: 'none',
    computeCap: 'none',
    simulated: true
  }))
}

/** The GPUs of `r` a stage's request fits: memory and model as asked, simulated ones only with `allowSimulated`. */
export function fittingGpus (r: Resources, want: { gpuMemoryMib?: number, gpuModel?: string }, allowSimulated = false): GpuInfo[] {
  return r.gpus.filter((g) => (allowSimulated || g.simulated !== true) && (want.gpuMemoryMib == null || g.memoryTotalMib >= want.gpuMemoryMib) && (want.gpuModel == null || g.name.toLowerCase().includes(want.gpuModel.toLowerCase())))
}

/**
 * Whether `r` satisfies a stage's resource request; the reason when not.
 * Simulated GPUs count only with `allowSimulated` (`mlp repro --simulated-gpus`).
 */
export function satisfies (r: Resources, want: { gpu: number, gpuMemoryMib?: number, gpuModel?: string }, allowSimulated = false): { ok: boolean, why?: string } {
  if (want.gpu === 0) return { ok: true }
  const usable = r.gpus.filter((g) => allowSimulated || g.simulated !== true)
  const fit = fittingGpus(r, want, allowSimulated)
  if (fit.length >= want.gpu) return { ok: true }
  const simulated = r.gpus.length - usable.length
  if (usable.length === 0) return { ok: false, why: simulated > 0 ? 'only simulated GPUs (`mlp repro --simulated-gpus` to use them)' : r.slurm?.error != null ? `Slurm partition ${r.slurm.partition}: ${r.slurm.error}` : 'no GPU' }
  // Slurm has no gres for GPU memory: the login node's executor.gresTypes table must give each model's
  if (r.slurm != null && want.gpuMemoryMib != null && usable.every((g) => g.memoryTotalMib === 0)) return { ok: false, why: `Slurm partition ${r.slurm.partition} cannot match gpu_memory_mib: its executor.gresTypes gives no GPU model's memory` }
  return { ok: false, why: `${usable.length} GPU(s): ${usable.map((g) => `${g.name} ${g.memoryTotalMib} MiB`).join(', ')}` }
}

/** A Slurm partition's GPUs in a few words: `Slurm partition gpu: 4 GPUs (NVIDIA H200 x4), 1 free`. */
export function describePartition (r: Resources): string {
  const s = r.slurm
  if (s == null) return ''
  if (s.error != null) return `Slurm partition ${s.partition}: no capacity now (${s.error})`
  const models = new Map<string, number>()
  for (const g of r.gpus) models.set(g.name, (models.get(g.name) ?? 0) + 1)
  return `Slurm partition ${s.partition}: ${s.gpusTotal} GPU${s.gpusTotal === 1 ? '' : 's'}${models.size > 0 ? ` (${[...models].map(([m, n]) => `${m} x${n}`).join(', ')})` : ''}, ${s.gpusFree} free`
}

/** One line describing what a machine offers, for errors and `mlp peers`. */
export function describeResources (r: Resources): string {
  if (r.slurm != null) return `${describePartition(r)}; ${r.runningJobs} running, ${r.queuedJobs} queued`
  const gpus = r.gpus.length === 0 ? 'no GPU' : r.gpus.map((g) => `${g.name}${g.simulated === true ? ' [simulated]' : ''} (${g.memoryFreeMib}/${g.memoryTotalMib} MiB free)`).join(', ')
  return `${gpus}; ${r.cpus} CPUs; ${Math.round(r.memoryBytes / 2 ** 30)} GiB RAM; ${r.runningJobs} running, ${r.queuedJobs} queued`
}
