import { execFile } from 'node:child_process'
import { SlurmUnavailableError } from '@mlp/proto'

/** How long one Slurm command may take: slurmctld answers in milliseconds, or after its own MessageTimeout (10 s) when it is down. */
const COMMAND_TIMEOUT_MS = 20_000

/** What a Slurm command printed. */
export interface SlurmOutput {
  code: number
  stdout: string
  stderr: string
}

/**
 * Runs one Slurm command (`sbatch`, `squeue`, `scontrol`, `scancel`, `sinfo`)
 * with no shell. A missing command throws {@link SlurmUnavailableError}; a
 * non-zero exit is returned for the caller to read.
 */
export async function slurm (cmd: string, args: string[], env?: NodeJS.ProcessEnv): Promise<SlurmOutput> {
  return await new Promise((resolve, reject) => {
    execFile(cmd, args, { timeout: COMMAND_TIMEOUT_MS, env: env ?? process.env, maxBuffer: 16 * 2 ** 20 }, (err, stdout, stderr) => {
      if ((err as NodeJS.ErrnoException | null)?.code === 'ENOENT') {
        reject(new SlurmUnavailableError(`${cmd} is not on this daemon's PATH: is this a Slurm login node? (executor.kind: slurm needs sbatch, squeue, scontrol, scancel and sinfo)`))
        return
      }
      const code = err == null ? 0 : typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : 1
      resolve({ code, stdout, stderr })
    })
  })
}

/** stderr of a Slurm command saying slurmctld cannot be reached (down, or network). */
export function unreachable (stderr: string): boolean {
  return /Unable to contact slurm controller|Socket timed out|Connection refused|connect failure|Zero Bytes were transmitted|Communication connection failure/i.test(stderr)
}

/** stderr of an sbatch refused by a per-user or per-account limit: the job waits here and is submitted again. */
export function submitLimited (stderr: string): boolean {
  return /MaxSubmitJob|submit limit|AssocMaxSubmitJobLimit|QOSMaxSubmitJobPerUserLimit|Resource temporarily unavailable|Slurm temporarily unable to accept job/i.test(stderr)
}

/** The first line of a Slurm command's complaint, without its `sbatch: error: ` or `slurm_load_jobs error: ` prefix. */
export function complaint (out: SlurmOutput): string {
  const line = out.stderr.split('\n').map((l) => l.trim()).find((l) => l !== '') ?? `exit code ${out.code}`
  return line.replace(/^(\w+: (error|fatal): |slurm_load_\w+( error)?: )/, '')
}
