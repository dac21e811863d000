import type { PeerInfo, TrustEntry } from '@mlp/proto'
import { DEFAULT_PORT } from '@mlp/daemon/pure'
import { formatBytes } from '../format.js'

/** How a check came out: `fail` makes `mlp doctor` exit non-zero; `info` only explains. */
export type CheckStatus = 'ok' | 'info' | 'warn' | 'fail'

/** One line of `mlp doctor`: what was checked, what was found, and the fix. */
export interface CheckResult {
  name: string
  status: CheckStatus
  detail: string
  fix?: string
}

/** The running daemon as the doctor saw it; null when none answers. */
export interface DaemonFacts {
  pid: number
  version: string
  addrs: string[]
  /** Listen addresses that accepted a TCP connection from here. */
  reachable: string[]
  peers: PeerInfo[]
  trust: TrustEntry[]
  /** GPUs the daemon itself detected. */
  gpus: number
}

/** Everything the checks look at, gathered once (see gather.ts) so the checks stay pure. */
export interface DoctorFacts {
  home: string
  cliVersion: string
  daemon: DaemonFacts | null
  /** config.yaml's mDNS setting, or the daemon's `--no-mdns`/`--mdns` when it was started with one. */
  mdns: boolean
  /** The config error, when config.yaml does not load. */
  configError?: string
  swarmKey: { file: string, present: boolean, error?: string }
  /** What `nvidia-smi` did: not on PATH, failed (with its words), or the GPUs it listed. */
  nvidiaSmi: { state: 'missing' } | { state: 'failed', said: string } | { state: 'ok', gpus: string[] }
  disk: { dir: string, freeBytes: number | null, error?: string }
  git: { root: string | null, projectRoot: string | null, mlpCommitted: boolean, postCheckout: string | null }
}

/** Free space under which the store's disk is a failure, and under which it is a warning. */
export const DISK_FAIL_BYTES = 1e9
export const DISK_WARN_BYTES = 5e9

const START = '`mlp daemon start`'
const LISTEN_ALL = `restart it with \`mlp daemon start --listen /ip4/0.0.0.0/tcp/${DEFAULT_PORT}\``

/** Is a daemon running for this `MLP_HOME`, and is it this CLI's version? */
export function checkDaemon (f: DoctorFacts): CheckResult {
  const name = 'daemon'
  if (f.daemon == null) return { name, status: 'fail', detail: `no daemon is running for MLP_HOME=${f.home}`, fix: `start it with ${START}` }
  if (f.daemon.version !== f.cliVersion) return { name, status: 'warn', detail: `running (pid ${f.daemon.pid}) but at version ${f.daemon.version}, and this CLI is ${f.cliVersion}`, fix: 'restart it: `mlp daemon stop` then `mlp daemon start`' }
  return { name, status: 'ok', detail: `running (pid ${f.daemon.pid}), version ${f.daemon.version}` }
}

/** Does the daemon listen where teammates can reach it, and does its port accept connections? */
export function checkListen (f: DoctorFacts): CheckResult {
  const name = 'listen addresses'
  if (f.daemon == null) return { name, status: 'fail', detail: 'unknown: the daemon is not running', fix: `start it with ${START}` }
  const tcp = f.daemon.addrs.filter((a) => a.includes('/tcp/'))
  if (tcp.length === 0) return { name, status: 'fail', detail: 'the daemon listens on no TCP address', fix: LISTEN_ALL }
  const unreachable = tcp.filter((a) => !f.daemon?.reachable.includes(a))
  if (unreachable.length === tcp.length) return { name, status: 'fail', detail: `no listen address accepts a connection: ${unreachable.join(', ')}`, fix: 'check the firewall, or restart the daemon (`mlp daemon stop`, `mlp daemon start`)' }
  if (tcp.every((a) => a.startsWith('/ip4/127.') || a.startsWith('/ip6/::1/'))) return { name, status: 'warn', detail: `listens on this machine only (${tcp.join(', ')}): teammates cannot connect`, fix: LISTEN_ALL }
  return { name, status: 'ok', detail: `${tcp.join(', ')} (port answers)` }
}

/** mDNS on or off, and whether any peer was seen. */
export function checkPeers (f: DoctorFacts): CheckResult {
  const name = 'peers'
  const mdns = f.mdns ? 'mDNS on' : 'mDNS off'
  if (f.daemon == null) return { name, status: 'fail', detail: `${mdns}; peers unknown: the daemon is not running`, fix: `start it with ${START}` }
  const connected = f.daemon.peers.filter((p) => p.state === 'connected').length
  const remembered = f.daemon.peers.filter((p) => p.remembered).length
  const detail = `${mdns}; ${connected} connected, ${remembered} remembered`
  if (connected > 0) return { name, status: 'ok', detail }
  if (remembered > 0) return { name, status: 'warn', detail: `${detail}: no remembered peer answers`, fix: 'is its daemon running, and does it have the same swarm key (`mlp team join`)? Check with `mlp peers`' }
  if (f.mdns) return { name, status: 'warn', detail: `${detail}: no daemon found on this LAN yet`, fix: `mDNS may be blocked here: add a teammate with \`mlp peers add /ip4/<their address>/tcp/${DEFAULT_PORT}/p2p/<their peer id>\` (they print it with \`mlp id\`)` }
  return { name, status: 'warn', detail, fix: 'with mDNS off, peers come only from `mlp peers add <multiaddr>`' }
}

/** The private network's key: present, readable, and what it means. */
export function checkSwarmKey (f: DoctorFacts): CheckResult {
  const name = 'swarm key'
  if (f.swarmKey.error != null) return { name, status: 'fail', detail: f.swarmKey.error, fix: 'write it again with `mlp team join <line> --force` (a teammate prints the line with `mlp team create`)' }
  if (!f.swarmKey.present) return { name, status: 'info', detail: `none (${f.swarmKey.file}): an open network, where peers are strangers unless added with \`mlp team add\``, fix: 'for a team: `mlp team create` on one machine, `mlp team join <line>` on the others, then restart the daemons' }
  return { name, status: 'ok', detail: `${f.swarmKey.file}: only daemons with the same key connect; every peer that does is a teammate` }
}

/** Who may run stages here, and whose results are believed. */
export function checkTrust (f: DoctorFacts): CheckResult {
  const name = 'trust'
  if (f.daemon == null) return { name, status: 'fail', detail: 'unknown: the daemon is not running', fix: `start it with ${START}` }
  const run = f.daemon.trust.filter((t) => t.roles.includes('run')).length
  const results = f.daemon.trust.filter((t) => t.roles.includes('results')).length
  if (run + results === 0) return { name, status: 'info', detail: 'nobody is trusted: stages run only on this machine', fix: 'to send a stage to a teammate\'s GPU: `mlp trust add <their peerId> --results` here, and `mlp trust add <your peerId> --run` there' }
  return { name, status: 'ok', detail: `${run} peer(s) may run stages here (--run); results of ${results} are believed (--results)` }
}

/** What nvidia-smi said, and whether the daemon sees the same GPUs. */
export function checkGpu (f: DoctorFacts): CheckResult {
  const name = 'GPU'
  const n = f.nvidiaSmi
  if (n.state === 'missing') return { name, status: 'info', detail: 'no nvidia-smi on PATH: this machine offers no GPU', fix: 'stages with `--gpu` are sent to a trusted peer with one (`mlp peers` shows their GPUs); `mlp repro --local` runs them here anyway' }
  if (n.state === 'failed') return { name, status: 'warn', detail: `nvidia-smi failed: ${n.said}`, fix: 'check the NVIDIA driver: `nvidia-smi` must work for the user running the daemon, then restart the daemon' }
  if (f.daemon != null && f.daemon.gpus !== n.gpus.length) return { name, status: 'warn', detail: `nvidia-smi lists ${n.gpus.length} GPU(s) (${n.gpus.join(', ')}) but the daemon detected ${f.daemon.gpus}`, fix: 'restart the daemon (`mlp daemon stop`, `mlp daemon start`) so it sees them' }
  return { name, status: 'ok', detail: `${n.gpus.length} GPU(s): ${n.gpus.join(', ')}` }
}

/** Free space on the store's disk. */
export function checkDisk (f: DoctorFacts): CheckResult {
  const name = 'disk'
  if (f.disk.freeBytes == null) return { name, status: 'warn', detail: `cannot read free space of ${f.disk.dir}: ${f.disk.error ?? 'unknown error'}`, fix: 'check that MLP_HOME exists and is readable' }
  const detail = `${formatBytes(f.disk.freeBytes)} free for the store (${f.disk.dir})`
  const fix = '`mlp gc` removes blocks no project references; or set MLP_HOME on a bigger disk'
  if (f.disk.freeBytes < DISK_FAIL_BYTES) return { name, status: 'fail', detail, fix }
  if (f.disk.freeBytes < DISK_WARN_BYTES) return { name, status: 'warn', detail, fix }
  return { name, status: 'ok', detail }
}

/** Is this directory an mlp project, with `.mlp/` committed so teammates see it too? */
export function checkProject (f: DoctorFacts): CheckResult {
  const name = 'project'
  if (f.git.root == null) return { name, status: 'info', detail: 'not in a git repository', fix: 'in your project: `git init`, then `mlp init`' }
  if (f.git.projectRoot == null) return { name, status: 'warn', detail: `${f.git.root} is a git repository but not an mlp project`, fix: 'run `mlp init` there' }
  if (!f.git.mlpCommitted) return { name, status: 'fail', detail: `${f.git.projectRoot}/.mlp is not committed: a teammate's \`mlp pull\` fails with 'not inside an mlp project'`, fix: '`git add .mlp && git commit -m "mlp project"`' }
  return { name, status: 'ok', detail: `${f.git.projectRoot} (.mlp/ committed)` }
}

/** Git hooks that keep the workspace in step with the pointer files on checkout. */
export function checkHooks (f: DoctorFacts): CheckResult {
  const name = 'git hooks'
  if (f.git.root == null || f.git.projectRoot == null) return { name, status: 'info', detail: 'not checked: not in an mlp project' }
  if (f.git.postCheckout == null) return { name, status: 'warn', detail: 'no post-checkout hook: after `git checkout` the data stays at the old version until `mlp checkout`', fix: 'run `mlp install`' }
  if (!f.git.postCheckout.includes('mlp checkout')) return { name, status: 'warn', detail: '.git/hooks/post-checkout does not run `mlp checkout`', fix: 'run `mlp install` (or add `mlp checkout` to the hook)' }
  return { name, status: 'ok', detail: 'post-checkout runs `mlp checkout`' }
}

/** Every check, in the order a newcomer meets the problems. */
export function runChecks (f: DoctorFacts): CheckResult[] {
  return [checkDaemon, checkListen, checkPeers, checkSwarmKey, checkTrust, checkGpu, checkDisk, checkProject, checkHooks].map((check) => check(f))
}
