import { execFile } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import { statfs } from 'node:fs/promises'
import { connect } from 'node:net'
import { dirname, join, resolve } from 'node:path'
import { DaemonNotRunningError } from '@mlp/proto'
import { findProject, GPU_QUERY, homePaths, loadConfig, loadSwarmKey, parseGpus } from '@mlp/daemon/pure'
import type { ApiClient } from '../client.js'
import type { DaemonFacts, DoctorFacts } from './checks.js'

/** How long one listen port may take to accept a connection. */
const CONNECT_TIMEOUT_MS = 2_000

interface Run { code: number | string | null, stdout: string, stderr: string }

async function run (cmd: string, args: string[], cwd?: string): Promise<Run> {
  return await new Promise((resolve) => {
    execFile(cmd, args, { cwd, timeout: 10_000 }, (err, stdout, stderr) => {
      resolve({ code: err == null ? 0 : (err as NodeJS.ErrnoException).code ?? 1, stdout, stderr })
    })
  })
}

/** True when a TCP connection to the address's host and port opens (0.0.0.0 means this machine). */
async function accepts (addr: string): Promise<boolean> {
  const m = /^\/ip([46])\/([^/]+)\/tcp\/(\d+)/.exec(addr)
  if (m == null) return false
  const host = m[2] === '0.0.0.0' ? '127.0.0.1' : m[2] === '::' ? '::1' : m[2]
  return await new Promise((resolve) => {
    const socket = connect({ host, port: Number(m[3]), timeout: CONNECT_TIMEOUT_MS })
    const done = (ok: boolean): void => { socket.destroy(); resolve(ok) }
    socket.once('connect', () => { done(true) })
    socket.once('timeout', () => { done(false) })
    socket.once('error', () => { done(false) })
  })
}

async function daemonFacts (client: ApiClient): Promise<DaemonFacts | null> {
  let status
  try {
    status = await client.call('daemon/status', {})
  } catch (err) {
    if (err instanceof DaemonNotRunningError) return null
    throw err
  }
  const [peers, trust, resources] = await Promise.all([client.call('peers/ls', {}), client.call('trust/ls', {}), client.call('resources', {})])
  const reachable: string[] = []
  for (const a of status.addrs) if (await accepts(a)) reachable.push(a)
  return { pid: status.pid, version: status.version, addrs: status.addrs, reachable, peers, trust, gpus: resources.gpus.length }
}

/** The mDNS flag the daemon was started with, read from its command line (Linux); undefined when it had none. */
function mdnsFlag (pid: number): boolean | undefined {
  try {
    const args = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0')
    if (args.includes('--no-mdns')) return false
    if (args.includes('--mdns')) return true
  } catch {
    // not Linux, or not ours to read: config.yaml decides
  }
  return undefined
}

async function nvidiaSmi (): Promise<DoctorFacts['nvidiaSmi']> {
  const r = await run('nvidia-smi', [`--query-gpu=${GPU_QUERY}`, '--format=csv,noheader,nounits'])
  if (r.code === 'ENOENT') return { state: 'missing' }
  if (r.code !== 0) return { state: 'failed', said: (r.stderr.trim() || r.stdout.trim() || `exit code ${String(r.code)}`).split('\n')[0] }
  try {
    return { state: 'ok', gpus: parseGpus(r.stdout).map((g) => `${g.name} ${g.memoryTotalMib} MiB`) }
  } catch (err) {
    return { state: 'failed', said: (err as Error).message }
  }
}

async function freeBytes (dir: string): Promise<DoctorFacts['disk']> {
  // the store may not exist yet: its disk is the nearest existing parent's
  let at = dir
  while (!existsSync(at) && dirname(at) !== at) at = dirname(at)
  try {
    const s = await statfs(at)
    return { dir, freeBytes: s.bavail * s.bsize }
  } catch (err) {
    return { dir, freeBytes: null, error: (err as Error).message }
  }
}

async function gitFacts (cwd: string): Promise<DoctorFacts['git']> {
  const top = await run('git', ['rev-parse', '--show-toplevel'], cwd)
  if (top.code !== 0) return { root: null, projectRoot: null, mlpCommitted: false, postCheckout: null }
  const root = top.stdout.trim()
  let projectRoot: string | null = null
  try {
    projectRoot = findProject(cwd)
  } catch {
    // not an mlp project: checkProject says so
  }
  const committed = projectRoot == null ? { stdout: '' } : await run('git', ['ls-files', '--', '.mlp'], projectRoot)
  // --git-path honours core.hooksPath and worktrees
  const hookPath = (await run('git', ['rev-parse', '--git-path', 'hooks/post-checkout'], cwd)).stdout.trim()
  let postCheckout: string | null = null
  try {
    postCheckout = readFileSync(resolve(cwd, hookPath), 'utf8')
  } catch {
    // no hook
  }
  return { root, projectRoot, mlpCommitted: committed.stdout.trim() !== '', postCheckout }
}

/** Gathers what `mlp doctor` checks: asks the daemon if one runs, then the files, git and nvidia-smi. */
export async function gatherFacts (home: string, cliVersion: string, client: ApiClient, cwd: string): Promise<DoctorFacts> {
  const paths = homePaths(home)
  const daemon = await daemonFacts(client)
  let mdns = true
  let configError: string | undefined
  let swarmFile = join(home, 'swarm.key')
  let swarmRequired = false
  try {
    const config = await loadConfig(paths.config)
    mdns = config.mdns
    if (config.swarmKey != null) {
      swarmFile = resolve(home, config.swarmKey)
      swarmRequired = true
    }
  } catch (err) {
    configError = (err as Error).message
  }
  if (daemon != null) mdns = mdnsFlag(daemon.pid) ?? mdns
  let swarmKey: DoctorFacts['swarmKey']
  try {
    swarmKey = { file: swarmFile, present: (await loadSwarmKey(swarmFile, swarmRequired)) != null }
  } catch (err) {
    swarmKey = { file: swarmFile, present: false, error: (err as Error).message }
  }
  return { home, cliVersion, daemon, mdns, configError, swarmKey, nvidiaSmi: await nvidiaSmi(), disk: await freeBytes(paths.store), git: await gitFacts(cwd) }
}
