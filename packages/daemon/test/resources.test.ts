import { describe, expect, it } from 'vitest'
import { describeResources, parseCudaVersion, parseGpus, satisfies } from '../src/exec/resources.js'

// captured on a real H200 machine (../shared/fixtures/nvidia-smi)
const LINE = '0, GPU-188a0793-ba8e-a900-9e5b-dac4fe033219, NVIDIA H200, 143771, 0, 143156, 0, 580.159.04, 00000000:00:06.0, 9.0\n'
const HEADER = '| NVIDIA-SMI 580.159.04             Driver Version: 580.159.04     CUDA Version: 13.0     |\n'

describe('nvidia-smi parsing', () => {
  it('reads every field of the real output', () => {
    expect(parseGpus(LINE)).toEqual([{
      index: 0,
      uuid: 'GPU-188a0793-ba8e-a900-9e5b-dac4fe033219',
      name: 'NVIDIA H200',
      memoryTotalMib: 143771,
      memoryUsedMib: 0,
      memoryFreeMib: 143156,
      utilizationPct: 0,
      driverVersion: '580.159.04',
      computeCap: '9.0'
    }])
    expect(parseCudaVersion(HEADER)).toBe('13.0')
    expect(parseGpus('')).toEqual([])
    expect(() => parseGpus('garbage')).toThrow('unexpected nvidia-smi line')
  })

  it('matches requests against what a machine has', () => {
    const r = { gpus: parseGpus(LINE), cpus: 16, memoryBytes: 2 ** 37, freeMemoryBytes: 2 ** 36, runningJobs: 0, queuedJobs: 0 }
    expect(satisfies(r, { gpu: 1 }).ok).toBe(true)
    expect(satisfies(r, { gpu: 2 }).ok).toBe(false)
    expect(satisfies(r, { gpu: 1, gpuModel: 'h200' }).ok).toBe(true)
    expect(satisfies(r, { gpu: 1, gpuModel: 'A100' }).ok).toBe(false)
    expect(satisfies(r, { gpu: 1, gpuMemoryMib: 200_000 })).toEqual({ ok: false, why: '1 GPU(s): NVIDIA H200 143771 MiB' })
    expect(satisfies({ ...r, gpus: [] }, { gpu: 1 })).toEqual({ ok: false, why: 'no GPU' })
    expect(describeResources(r)).toBe('NVIDIA H200 (143156/143771 MiB free); 16 CPUs; 128 GiB RAM; 0 running, 0 queued')
  })
})
