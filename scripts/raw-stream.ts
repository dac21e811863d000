import '@mlp/proto/polyfill'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { multiaddr } from '@multiformats/multiaddr'
import { createNode } from '@mlp/daemon'

// The physical limit of the exchange: one libp2p stream (TCP + Noise + yamux,
// the same node configuration the daemon uses) between two processes.
//   node raw-stream.js serve          prints its address, counts what arrives
//   node raw-stream.js send <addr> <bytes> <chunk>   prints seconds taken
const PROTOCOL = '/mlp-bench/raw/1.0.0'
const [mode, addr, total, chunk] = process.argv.slice(2)
const node = await createNode({ privateKey: await generateKeyPair('Ed25519'), listen: ['/ip4/127.0.0.1/tcp/0'], mdns: false })

if (mode === 'serve') {
  await node.handle(PROTOCOL, async (stream) => {
    let n = 0
    for await (const c of stream) n += c.byteLength
    stream.send(new TextEncoder().encode(String(n)))
    await stream.close()
  })
  process.stdout.write(node.getMultiaddrs()[0].toString() + '\n')
  process.on('SIGTERM', () => { process.exit(0) })
} else {
  const bytes = Number(total)
  const size = Number(chunk)
  const payload = new Uint8Array(size).fill(7)
  const stream = await node.dialProtocol(multiaddr(addr), PROTOCOL)
  const start = performance.now()
  for (let sent = 0; sent < bytes; sent += size) {
    if (!stream.send(payload)) await stream.onDrain()
  }
  await stream.close()
  for await (const c of stream) void c
  process.stdout.write(String((performance.now() - start) / 1000) + '\n')
  await node.stop()
  process.exit(0)
}
