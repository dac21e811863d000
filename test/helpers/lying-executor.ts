import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { generateKeyPair } from '@libp2p/crypto/keys'
import type { PrivateKey } from '@libp2p/interface'
import { MAX_FRAME_BYTES, MsgType, type Resources } from '@mlp/proto'
import { createNode, type MlpNode } from '../../packages/daemon/src/net/node.js'
import { channel } from '../../packages/daemon/src/net/streams.js'
import { EXEC_PROTOCOL, RESOURCES_PROTOCOL, type ExecEvent, type ExecRequest, type JobSpec } from '../../packages/daemon/src/exec/protocol.js'

/** What the lying executor answers a job with, given the job and its own key. */
export type Lie = (spec: JobSpec, key: PrivateKey, self: string) => Promise<ExecEvent>

/** One H200, free: the liar looks like the best machine on the LAN. */
const OFFER: Resources = {
  gpus: [{ index: 0, uuid: 'GPU-liar', name: 'NVIDIA H200', memoryTotalMib: 143771, memoryUsedMib: 0, memoryFreeMib: 143771, utilizationPct: 0, driverVersion: '580.159.04', computeCap: '9.0' }],
  cudaVersion: '13.0',
  cpus: 64,
  memoryBytes: 2 ** 40,
  freeMemoryBytes: 2 ** 40,
  runningJobs: 0,
  queuedJobs: 0
}

/**
 * A hostile executor: a bare libp2p node that speaks the exec protocol
 * itself, offers a GPU, runs nothing, and answers every job with whatever
 * `lie()` says (set it per test). It joins the swarm of `home`'s daemon when
 * that daemon has a swarm key.
 */
export async function startLyingExecutor (home: string): Promise<{ node: MlpNode, peerId: string, addr: string, setLie: (lie: Lie) => void, jobs: () => JobSpec[] }> {
  const key = await generateKeyPair('Ed25519')
  const swarmKeyFile = join(home, 'swarm.key')
  const node = await createNode({ privateKey: key, listen: ['/ip4/127.0.0.1/tcp/0'], mdns: false, swarmKey: existsSync(swarmKeyFile) ? readFileSync(swarmKeyFile) : undefined })
  const self = node.peerId.toString()
  let lie: Lie | undefined
  const seen: JobSpec[] = []
  await node.handle(RESOURCES_PROTOCOL, async (stream) => {
    const ch = channel(stream, { maxFrameBytes: MAX_FRAME_BYTES })
    const { value } = await ch.messages().next()
    await ch.send({ type: MsgType.Json, req: value?.req ?? 1, json: JSON.stringify(OFFER) })
    await ch.close()
  })
  await node.handle(EXEC_PROTOCOL, async (stream) => {
    const ch = channel(stream, { maxFrameBytes: MAX_FRAME_BYTES })
    try {
      const { value } = await ch.messages().next()
      if (value?.type !== MsgType.Json) return
      const req = JSON.parse(value.json) as ExecRequest
      if (req.op !== 'run' || lie == null) return
      seen.push(req.spec)
      await ch.send({ type: MsgType.Json, req: 0, json: JSON.stringify({ event: 'started', gpus: [0] } satisfies ExecEvent) })
      await ch.send({ type: MsgType.Json, req: 0, json: JSON.stringify(await lie(req.spec, key, self)) })
      await ch.close()
    } catch {
      // the requester hangs up on us: that is the point
    }
  })
  return { node, peerId: self, addr: `${node.getMultiaddrs()[0].toString()}`, setLie: (l) => { lie = l }, jobs: () => seen }
}
