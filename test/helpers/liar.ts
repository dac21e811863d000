import { randomBytes } from 'node:crypto'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { EXCHANGE_PROTOCOL, MAX_FRAME_BYTES, MsgType } from '@mlp/proto'
import { createNode, type MlpNode } from '../../packages/daemon/src/net/node.js'
import { channel } from '../../packages/daemon/src/net/streams.js'

/**
 * A hostile test peer: it claims to have every block and answers every WANT
 * with random bytes of plausible size. Returns the node and how many blocks
 * it sent. With `swarmKey` it joins that private network (a lying teammate).
 */
export async function startLiar (swarmKey?: Uint8Array): Promise<{ node: MlpNode, sent: () => number }> {
  const node = await createNode({ privateKey: await generateKeyPair('Ed25519'), listen: ['/ip4/127.0.0.1/tcp/0'], mdns: false, swarmKey })
  let sent = 0
  await node.handle(EXCHANGE_PROTOCOL, async (stream) => {
    const ch = channel(stream, { maxFrameBytes: MAX_FRAME_BYTES })
    try {
      for await (const msg of ch.messages()) {
        if (msg.type === MsgType.Has) await ch.send({ type: MsgType.Have, req: msg.req, have: msg.cids.map(() => true) })
        if (msg.type === MsgType.Want) {
          for (const cid of msg.cids) {
            sent++
            await ch.send({ type: MsgType.Block, req: msg.req, cid, data: randomBytes(65_536) })
          }
        }
      }
    } catch {
      // the victim hangs up on us: that is the point
    }
  })
  return { node, sent: () => sent }
}
