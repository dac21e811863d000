import { randomBytes } from 'node:crypto'
import * as dagPb from '@ipld/dag-pb'
import { UnixFS } from 'ipfs-unixfs'
import { describe, expect, it } from 'vitest'
import { buildDirectory, encodeDirectoryNode } from '../src/store/dag.js'
import { DAG_PB_CODEC, RAW_CODEC } from '../src/store/constants.js'
import { cidOf } from '../src/store/hash.js'

describe('encodeDirectoryNode', () => {
  it('writes the bytes dagPb.encode writes, for any names, ids and sizes', () => {
    const sizes = [0, 1, 127, 128, 300, 16_383, 16_384, 2 ** 31 - 1, 2 ** 31, 2 ** 32, 2 ** 35 + 7, Number.MAX_SAFE_INTEGER]
    for (let round = 0; round < 50; round++) {
      const count = round === 0 ? 0 : 1 + Math.floor(Math.random() * 40)
      const links = Array.from({ length: count }, (_, i) => {
        const cid = cidOf(i % 2 === 0 ? RAW_CODEC : DAG_PB_CODEC, randomBytes(8))
        // names of every length class, multi-byte characters included
        const name = i % 5 === 0 ? 'é'.repeat(70 + i) : `${randomBytes(1 + (i % 9)).toString('hex')}-ü-${i}`
        return { name, cid, tsize: sizes[(round + i) % sizes.length] }
      }).sort((a, b) => Buffer.compare(Buffer.from(a.name), Buffer.from(b.name)))
      const expected = dagPb.encode({ Data: new UnixFS({ type: 'directory' }).marshal(), Links: links.map((l) => ({ Name: l.name, Hash: l.cid, Tsize: l.tsize })) })
      const got = encodeDirectoryNode(links.map((l) => ({ name: Buffer.from(l.name), hash: l.cid.bytes, tsize: l.tsize })))
      expect(Buffer.from(got).equals(Buffer.from(expected))).toBe(true)
    }
  })

  it('refuses a size dag-pb cannot encode', () => {
    const hash = cidOf(RAW_CODEC, randomBytes(8)).bytes
    expect(() => encodeDirectoryNode([{ name: Buffer.from('a'), hash, tsize: -1 }])).toThrow(/cannot be encoded/)
    expect(() => encodeDirectoryNode([{ name: Buffer.from('a'), hash, tsize: 2 ** 53 }])).toThrow(/cannot be encoded/)
  })

  it('gives buildDirectory the id of the node dagPb.encode writes, whatever the entry order', async () => {
    const entries = ['b', 'a', 'Z', 'ä', 'a0'].map((name, i) => ({ name, link: { cid: cidOf(RAW_CODEC, Buffer.from(name)), size: i, tsize: 10 * i } }))
    const sorted = [...entries].sort((x, y) => Buffer.compare(Buffer.from(x.name), Buffer.from(y.name)))
    const bytes = dagPb.encode({ Data: new UnixFS({ type: 'directory' }).marshal(), Links: sorted.map((e) => ({ Name: e.name, Hash: e.link.cid, Tsize: e.link.tsize })) })
    const link = await buildDirectory(entries, async () => {})
    expect(link.cid.toString()).toBe(cidOf(DAG_PB_CODEC, bytes).toString())
    expect(link.tsize).toBe(bytes.length + 100)
  })
})
