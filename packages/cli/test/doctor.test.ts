import { describe, expect, it } from 'vitest'
import { checkDaemon, checkDisk, checkGpu, checkHooks, checkListen, checkPeers, checkProject, checkSwarmKey, checkTrust, runChecks, type DaemonFacts, type DoctorFacts } from '../src/doctor/checks.js'

const addr = '/ip4/192.168.1.5/tcp/4001/p2p/12D3KooWabc'
const peer = { peerId: '12D3KooWpeer', addrs: [], state: 'connected' as const, latencyMs: 1, remembered: false, bytesSent: 0, bytesReceived: 0 }

/** A healthy machine; each test breaks one thing. */
function healthy (daemon: Partial<DaemonFacts> = {}, rest: Partial<DoctorFacts> = {}): DoctorFacts {
  return {
    home: '/home/u/.mlp',
    cliVersion: '0.1.0',
    daemon: { pid: 42, version: '0.1.0', addrs: [addr], reachable: [addr], peers: [peer], trust: [{ peerId: '12D3KooWpeer', roles: ['results'] }], gpus: 1, ...daemon },
    mdns: true,
    swarmKey: { file: '/home/u/.mlp/swarm.key', present: true },
    nvidiaSmi: { state: 'ok', gpus: ['NVIDIA H200 143771 MiB'] },
    disk: { dir: '/home/u/.mlp/store', freeBytes: 100e9 },
    git: { root: '/p', projectRoot: '/p', mlpCommitted: true, postCheckout: '#!/bin/sh\nmlp checkout\n' },
    ...rest
  }
}

describe('mlp doctor checks', () => {
  it('a healthy machine passes every check', () => {
    expect(runChecks(healthy()).map((c) => [c.name, c.status])).toEqual([
      ['daemon', 'ok'], ['listen addresses', 'ok'], ['peers', 'ok'], ['swarm key', 'ok'], ['trust', 'ok'], ['GPU', 'ok'], ['disk', 'ok'], ['project', 'ok'], ['git hooks', 'ok']
    ])
  })

  it('no daemon: the daemon-side checks fail and say `mlp daemon start`', () => {
    const f = healthy({}, { daemon: null })
    expect(checkDaemon(f)).toEqual({ name: 'daemon', status: 'fail', detail: 'no daemon is running for MLP_HOME=/home/u/.mlp', fix: 'start it with `mlp daemon start`' })
    for (const c of [checkListen(f), checkPeers(f), checkTrust(f)]) {
      expect(c.status).toBe('fail')
      expect(c.fix).toBe('start it with `mlp daemon start`')
    }
  })

  it('a daemon of another version is a warning naming the restart', () => {
    expect(checkDaemon(healthy({ version: '0.0.9' }))).toMatchObject({ status: 'warn', detail: 'running (pid 42) but at version 0.0.9, and this CLI is 0.1.0', fix: 'restart it: `mlp daemon stop` then `mlp daemon start`' })
  })

  it('a port that accepts nothing fails; loopback only is a warning', () => {
    expect(checkListen(healthy({ reachable: [] }))).toMatchObject({ status: 'fail', detail: `no listen address accepts a connection: ${addr}` })
    const lo = '/ip4/127.0.0.1/tcp/4001'
    expect(checkListen(healthy({ addrs: [lo], reachable: [lo] }))).toMatchObject({ status: 'warn', detail: `listens on this machine only (${lo}): teammates cannot connect`, fix: 'restart it with `mlp daemon start --listen /ip4/0.0.0.0/tcp/4737`' })
  })

  it('no peers: with mDNS on, it suggests `mlp peers add`; remembered peers down, the swarm key', () => {
    expect(checkPeers(healthy({ peers: [] }))).toMatchObject({ status: 'warn', detail: 'mDNS on; 0 connected, 0 remembered: no daemon found on this LAN yet' })
    expect(checkPeers(healthy({ peers: [] })).fix).toContain('mlp peers add')
    expect(checkPeers(healthy({ peers: [{ ...peer, state: 'disconnected', remembered: true }] }))).toMatchObject({ status: 'warn', detail: 'mDNS on; 0 connected, 1 remembered: no remembered peer answers' })
    expect(checkPeers(healthy({ peers: [] }, { mdns: false })).detail).toBe('mDNS off; 0 connected, 0 remembered')
  })

  it('an unreadable swarm key fails with its error; none is explained', () => {
    expect(checkSwarmKey(healthy({}, { swarmKey: { file: 'k', present: false, error: 'k is not a swarm key' } }))).toMatchObject({ status: 'fail', detail: 'k is not a swarm key', fix: 'write it again with `mlp team join <line> --force` (a teammate prints the line with `mlp team create`)' })
    expect(checkSwarmKey(healthy({}, { swarmKey: { file: 'k', present: false } }))).toMatchObject({ status: 'info', detail: 'none (k): an open network, where peers are strangers unless added with `mlp team add`' })
  })

  it('an empty trust list says how to send a stage to a peer', () => {
    expect(checkTrust(healthy({ trust: [] }))).toMatchObject({ status: 'info', detail: 'nobody is trusted: stages run only on this machine' })
    expect(checkTrust(healthy({ trust: [] })).fix).toContain('mlp trust add <their peerId> --results')
  })

  it('GPU: what nvidia-smi said, and a daemon that missed the GPUs', () => {
    expect(checkGpu(healthy({}, { nvidiaSmi: { state: 'failed', said: 'NVIDIA-SMI has failed because it couldn\'t communicate with the NVIDIA driver' } }))).toMatchObject({ status: 'warn', detail: 'nvidia-smi failed: NVIDIA-SMI has failed because it couldn\'t communicate with the NVIDIA driver' })
    expect(checkGpu(healthy({}, { nvidiaSmi: { state: 'missing' } }))).toMatchObject({ status: 'info', detail: 'no nvidia-smi on PATH: this machine offers no GPU' })
    expect(checkGpu(healthy({ gpus: 0 }))).toMatchObject({ status: 'warn', detail: 'nvidia-smi lists 1 GPU(s) (NVIDIA H200 143771 MiB) but the daemon detected 0' })
  })

  it('a nearly full disk fails, a filling one warns, naming `mlp gc`', () => {
    const full = checkDisk(healthy({}, { disk: { dir: '/s', freeBytes: 5e8 } }))
    expect(full).toMatchObject({ status: 'fail', detail: '500.0 MB free for the store (/s)' })
    expect(full.fix).toContain('mlp gc')
    expect(checkDisk(healthy({}, { disk: { dir: '/s', freeBytes: 2e9 } })).status).toBe('warn')
  })

  it('`.mlp/` not committed fails: a teammate\'s pull would not find the project', () => {
    expect(checkProject(healthy({}, { git: { root: '/p', projectRoot: '/p', mlpCommitted: false, postCheckout: null } }))).toEqual({
      name: 'project', status: 'fail', detail: '/p/.mlp is not committed: a teammate\'s `mlp pull` fails with \'not inside an mlp project\'', fix: '`git add .mlp && git commit -m "mlp project"`'
    })
    expect(checkProject(healthy({}, { git: { root: '/p', projectRoot: null, mlpCommitted: false, postCheckout: null } }))).toMatchObject({ status: 'warn', fix: 'run `mlp init` there' })
  })

  it('missing or foreign post-checkout hook: `mlp install`', () => {
    expect(checkHooks(healthy({}, { git: { root: '/p', projectRoot: '/p', mlpCommitted: true, postCheckout: null } }))).toMatchObject({ status: 'warn', fix: 'run `mlp install`' })
    expect(checkHooks(healthy({}, { git: { root: '/p', projectRoot: '/p', mlpCommitted: true, postCheckout: '#!/bin/sh\necho hi\n' } }))).toMatchObject({ status: 'warn', detail: '.git/hooks/post-checkout does not run `mlp checkout`' })
  })
})
