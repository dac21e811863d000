import { spawn } from 'node:child_process'
import { accessSync, constants, readdirSync, realpathSync } from 'node:fs'
import { delimiter, join } from 'node:path'
import { SandboxUnavailableError } from '@mlp/proto'

/** What a job started by a wrapper runs: `file args... /bin/sh -c <cmd>`. */
export interface Launcher {
  file: string
  args: string[]
}

/** Variables a peer's job inherits from the daemon's environment; everything else (tokens, keys, the canary a test sets) stays out. */
const INHERITED = ['PATH', 'LANG', 'LANGUAGE', 'TZ', 'TERM', 'USER', 'LOGNAME']

/**
 * Namespaces and privileges of a job. Without `--unshare-user --cap-drop ALL`
 * a job of a daemon running as root keeps every capability and can simply
 * unmount the tmpfs that hides `MLP_HOME` (an attacker did, and read
 * `identity.key`); `--new-session` keeps it from pushing keystrokes into the
 * daemon's terminal (TIOCSTI).
 */
const ISOLATION = ['--unshare-user', '--unshare-pid', '--unshare-ipc', '--cap-drop', 'ALL', '--new-session', '--die-with-parent']

/** How long the namespace probe may take: it starts and ends one `true`. */
const PROBE_TIMEOUT_MS = 10_000

/**
 * The scrubbed environment of a peer's job: an allowlist of the daemon's
 * variables (PATH, locale, time zone, terminal, user), HOME and TMPDIR of its
 * own, and what mlp gives every stage.
 */
export function jobEnv (init: { jobDir: string, executor: string, stage: string, gpus: number[] }, from: NodeJS.ProcessEnv = process.env): Record<string, string> {
  const env: Record<string, string> = {}
  for (const [k, v] of Object.entries(from)) {
    if (v != null && (INHERITED.includes(k) || k.startsWith('LC_'))) env[k] = v
  }
  return { ...env, HOME: init.jobDir, TMPDIR: '/tmp', MLP_EXECUTOR_PEER_ID: init.executor, MLP_STAGE: init.stage, CUDA_VISIBLE_DEVICES: init.gpus.join(',') }
}

/** `bwrap` on the daemon's PATH, or undefined. */
export function findBwrap (path = process.env.PATH ?? ''): string | undefined {
  for (const dir of path.split(delimiter)) {
    if (dir === '') continue
    const file = join(dir, 'bwrap')
    try {
      accessSync(file, constants.X_OK)
      return file
    } catch {
      // not in this directory
    }
  }
  return undefined
}

/** Device nodes a CUDA job needs (`/dev/nvidia0`, `/dev/nvidiactl`, `/dev/nvidia-uvm`, `/dev/nvidia-caps`...). */
function gpuDevices (): string[] {
  try {
    return readdirSync('/dev').filter((n) => n.startsWith('nvidia')).map((n) => join('/dev', n))
  } catch {
    return []
  }
}

/**
 * The bubblewrap command line of a job: the whole filesystem read-only, the
 * daemon's home (identity key, trust list, store, API socket) replaced by an
 * empty tmpfs, then the job's own directory bound back writable inside it
 * (order matters: the bind must come after the tmpfs that hides its parent);
 * a private /tmp, a minimal /dev plus the GPU nodes, a fresh /proc in a new
 * PID namespace (so the daemon's /proc/<pid>/environ is out of sight), its
 * own user namespace with no capabilities (so none of this can be unmounted,
 * even when the daemon runs as root), a new session, a cleared environment,
 * killed when the daemon dies.
 */
export function bwrapLauncher (bwrap: string, init: { home: string, jobDir: string, cwd: string, env: Record<string, string> }): Launcher {
  const home = realpathSync(init.home)
  const jobDir = realpathSync(init.jobDir)
  const cwd = realpathSync(init.cwd)
  const args = ['--ro-bind', '/', '/', '--dev', '/dev']
  for (const dev of gpuDevices()) args.push('--dev-bind', dev, dev)
  args.push('--proc', '/proc', '--tmpfs', '/tmp', '--tmpfs', home, '--bind', jobDir, jobDir)
  args.push(...ISOLATION, '--clearenv')
  for (const [k, v] of Object.entries(init.env)) args.push('--setenv', k, v)
  args.push('--chdir', cwd, '--')
  return { file: bwrap, args }
}

/**
 * How this executor runs peers' jobs: under bubblewrap, or (only when its
 * config says `executor: {sandbox: false}`) directly. Fails closed, with one
 * line naming both fixes, when bwrap is missing or cannot make namespaces.
 */
export async function sandboxFor (enabled: boolean, init: { home: string, jobDir: string, cwd: string, env: Record<string, string> }): Promise<Launcher | undefined> {
  if (!enabled) return undefined
  const optOut = 'or set `executor: {sandbox: false}` in its config.yaml to run peers\' jobs unsandboxed'
  const bwrap = findBwrap()
  if (bwrap == null) throw new SandboxUnavailableError(`cannot sandbox the job: bubblewrap (bwrap) is not on the executor's PATH; install it (apt-get install bubblewrap) ${optOut}`)
  const problem = await probe(bwrap)
  if (problem != null) throw new SandboxUnavailableError(`cannot sandbox the job: bwrap cannot create namespaces here (${problem}); allow unprivileged user namespaces ${optOut}`)
  return bwrapLauncher(bwrap, init)
}

/** Starts `true` in the namespaces a job gets; resolves with bwrap's complaint, or undefined when it works. */
async function probe (bwrap: string): Promise<string | undefined> {
  return await new Promise((resolve) => {
    const child = spawn(bwrap, ['--ro-bind', '/', '/', ...ISOLATION, '--', 'true'], { stdio: ['ignore', 'ignore', 'pipe'], timeout: PROBE_TIMEOUT_MS })
    let err = ''
    child.stderr.setEncoding('utf8')
    child.stderr.on('data', (d: string) => { if (err.length < 1000) err += d })
    child.once('error', (e) => { resolve(e.message) })
    child.once('close', (code) => { resolve(code === 0 ? undefined : (err.trim().split('\n')[0] ?? '') || `exit code ${String(code)}`) })
  })
}
