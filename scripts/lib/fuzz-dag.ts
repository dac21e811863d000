import * as dagPb from '@ipld/dag-pb'
import { UnixFS } from 'ipfs-unixfs'
import { isAbsolute, join, normalize, relative, sep } from 'node:path'
import { cidOf, decodeNode, entryNameProblem, entryNamesProblem, relativePathProblem } from '@mlp/daemon'
import { prng } from './fuzz.js'

const DAG_PB = 0x70
const RAW = 0x55

/** Pieces hostile names are made of: traversal, separators, NUL, .git spellings, look-alikes, ordinary letters. */
const PIECES = ['.', '..', '/', '\\', '\u0000', '\n', 'git', 'GIT', 'Git', '~1', ':', '::$INDEX_ALLOCATION', ' ', '\u200c', '\u200d', '\ufeff', '\u206a', 'é', 'e\u0301', 'E\u0301', 'ß', 'SS', '\u212a', 'k', '\uff0e', '\uff47\uff49\uff54', 'a', 'data', 'x', 'hooks', '-', '_', '日本', '\ud83c\udf89']

/** A random name of 0 to 5 pieces. */
function randomName (rand: () => number): string {
  let name = ''
  for (let k = Math.floor(rand() * 6); k > 0; k--) name += PIECES[Math.floor(rand() * PIECES.length)]
  return name
}

function randomBytes (rand: () => number, n: number): Uint8Array {
  return Uint8Array.from({ length: n }, () => Math.floor(rand() * 256))
}

/** An encoded directory node with `names` (sorted, as dag-pb requires of an encoder; a mutation may unsort them). */
function directory (rand: () => number, names: string[]): Uint8Array {
  const leaf = cidOf(RAW, randomBytes(rand, 4))
  const sorted = [...names].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)))
  return dagPb.encode({ Data: new UnixFS({ type: 'directory' }).marshal(), Links: sorted.map((Name) => ({ Name, Hash: leaf, Tsize: Math.floor(rand() * 1000) })) })
}

/**
 * Feeds `count` directory nodes to the DAG decoder: random names made of
 * hostile pieces, and bit flips, truncations and extensions of such nodes.
 * A node must decode to a directory whose names all pass the path rules (or
 * to another kind), or throw InvalidDagError; anything else is a failure.
 */
export function fuzzDagDecoder (count: number, seed: number): { accepted: number, rejected: number, failures: string[] } {
  const rand = prng(seed)
  let accepted = 0
  let rejected = 0
  const failures: string[] = []
  for (let i = 0; i < count; i++) {
    const names = Array.from({ length: Math.floor(rand() * 4) }, () => (rand() < 0.5 ? randomName(rand) : PIECES[Math.floor(rand() * PIECES.length)]))
    let bytes = directory(rand, names)
    const mode = Math.floor(rand() * 4)
    if (mode === 1) {
      bytes = Uint8Array.from(bytes)
      for (let k = 0; k < 1 + Math.floor(rand() * 4); k++) bytes[Math.floor(rand() * bytes.length)] ^= 1 << Math.floor(rand() * 8)
    } else if (mode === 2) bytes = bytes.subarray(0, Math.floor(rand() * bytes.length))
    else if (mode === 3) bytes = Uint8Array.from([...bytes, ...randomBytes(rand, 1 + Math.floor(rand() * 20))])
    try {
      const node = decodeNode(cidOf(DAG_PB, bytes), bytes)
      if (node.kind === 'directory') {
        const problem = entryNamesProblem(node.entries.map((e) => e.name))
        if (problem != null) failures.push(`decoded a directory with ${problem}`)
      }
      accepted++
    } catch (err) {
      if ((err as Error).name === 'InvalidDagError') rejected++
      else failures.push(`${(err as Error).name}: ${(err as Error).message} (${Buffer.from(bytes).toString('hex').slice(0, 80)})`)
    }
  }
  return { accepted, rejected, failures }
}

/** `.git` as any filesystem git protects would see it: an oracle written apart from path-rules.ts. */
function looksLikeDotGit (name: string): boolean {
  const plain = name.normalize('NFKC').replace(/[\u200c-\u200f\u202a-\u202e\u206a-\u206f\ufeff]/g, '').toLowerCase()
  const stem = plain.split(':')[0].replace(/[. ]+$/, '')
  return stem === '.git' || /^git~\d$/.test(stem)
}

/**
 * Feeds `count` random names and relative paths to the writer's path rules.
 * An accepted name, joined to a destination, must stay one level inside it
 * and not be `.git`; an accepted path must stay inside the root, be already
 * normal, and have no `.git` component.
 */
export function fuzzPathRules (count: number, seed: number): { accepted: number, rejected: number, failures: string[] } {
  const rand = prng(seed)
  const dest = '/srv/project/out'
  let accepted = 0
  let rejected = 0
  const failures: string[] = []
  for (let i = 0; i < count; i++) {
    const name = randomName(rand)
    if (entryNameProblem(name) == null) {
      accepted++
      const joined = join(dest, name)
      if (relative(dest, joined) !== name || normalize(joined) !== joined || looksLikeDotGit(name)) failures.push(`name ${JSON.stringify(name)} accepted but lands at ${JSON.stringify(joined)}`)
    } else rejected++
    const path = Array.from({ length: 1 + Math.floor(rand() * 3) }, () => randomName(rand)).join(rand() < 0.1 ? '\\' : '/')
    if (relativePathProblem(path) == null) {
      accepted++
      const rel = relative(dest, join(dest, path))
      if (rel !== path.split('/').join(sep) || rel === '..' || rel.startsWith(`..${sep}`) || isAbsolute(rel) || path.split('/').some(looksLikeDotGit)) failures.push(`path ${JSON.stringify(path)} accepted but resolves to ${JSON.stringify(rel)}`)
    } else rejected++
  }
  return { accepted, rejected, failures }
}
