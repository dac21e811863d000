import { readFile, rename, writeFile } from 'node:fs/promises'
import { peerIdFromString } from '@libp2p/peer-id'
import { InvalidPeerIdError } from '@mlp/proto'

/**
 * Peers allowed to run stages on this machine, in `MLP_HOME/trust.json`.
 * A stage is arbitrary code: nobody is trusted by default.
 */
export class TrustList {
  private peers = new Set<string>()

  constructor (private readonly file: string) {}

  async load (): Promise<void> {
    try {
      const list = JSON.parse(await readFile(this.file, 'utf8')) as unknown
      if (Array.isArray(list)) this.peers = new Set(list.filter((p): p is string => typeof p === 'string'))
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
    }
  }

  has (peer: string): boolean {
    return this.peers.has(peer)
  }

  list (): string[] {
    return [...this.peers].sort()
  }

  async add (peer: string): Promise<string[]> {
    try {
      peerIdFromString(peer)
    } catch (err) {
      throw new InvalidPeerIdError(`'${peer}' is not a peer id (they look like 12D3KooW...; see \`mlp id\` on that machine)`, { cause: err })
    }
    this.peers.add(peer)
    await this.save()
    return this.list()
  }

  async remove (peer: string): Promise<string[]> {
    this.peers.delete(peer)
    await this.save()
    return this.list()
  }

  private async save (): Promise<void> {
    const tmp = `${this.file}.tmp`
    await writeFile(tmp, JSON.stringify(this.list(), null, 2) + '\n', { mode: 0o600 })
    await rename(tmp, this.file)
  }
}
