import { mkdtemp, mkdir, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { CID } from 'multiformats/cid'
import { identity } from 'multiformats/hashes/identity'
import { describe, expect, it } from 'vitest'
import { candidateFiles } from '../src/pipeline/collect.js'
import { CID_CACHE_ENTRIES, parseCidCached } from '../src/store/cid-cache.js'
import { walkTree, type TreeEntry } from '../src/store/walk.js'
import { git, project } from './helpers/pipeline-project.js'

const STAGE = 'stages:\n  s:\n    cmd: echo\n'

describe('the git listing kept between two status calls', () => {
  it('follows every change of the index: a first stage, a removal, a re-add; the same index gives the same answer', async () => {
    const dir = await project({ 'dvc.yaml': STAGE, 'sub/dvc.yaml': STAGE, 'other/mlp.yaml': STAGE })
    git(dir, 'init', '-q')
    // no index yet: only the root's file, which is read tracked or not
    expect(candidateFiles(dir)).toEqual(['dvc.yaml'])
    expect(candidateFiles(dir)).toEqual(['dvc.yaml'])
    git(dir, 'add', 'sub/dvc.yaml')
    expect(candidateFiles(dir)).toEqual(['dvc.yaml', 'sub/dvc.yaml'])
    git(dir, 'add', 'other/mlp.yaml')
    expect(candidateFiles(dir)).toEqual(['dvc.yaml', 'other/mlp.yaml', 'sub/dvc.yaml'])
    git(dir, 'rm', '-q', '--cached', 'sub/dvc.yaml')
    expect(candidateFiles(dir)).toEqual(['dvc.yaml', 'other/mlp.yaml'])
    // several index rewrites within one clock tick still differ by inode
    for (let i = 0; i < 5; i++) {
      git(dir, 'add', 'sub/dvc.yaml')
      expect(candidateFiles(dir)).toEqual(['dvc.yaml', 'other/mlp.yaml', 'sub/dvc.yaml'])
      git(dir, 'rm', '-q', '--cached', 'sub/dvc.yaml')
      expect(candidateFiles(dir)).toEqual(['dvc.yaml', 'other/mlp.yaml'])
    }
  })

  it('asks git each time where the environment points it elsewhere', async () => {
    const dir = await project({ 'sub/dvc.yaml': STAGE })
    git(dir, 'init', '-q')
    git(dir, 'add', 'sub/dvc.yaml')
    expect(candidateFiles(dir)).toEqual(['sub/dvc.yaml'])
    process.env.GIT_INDEX_FILE = join(dir, 'no-such-index')
    try {
      // the other index lists nothing: git was asked, not the kept answer
      expect(candidateFiles(dir)).toEqual([])
    } finally {
      delete process.env.GIT_INDEX_FILE
    }
    expect(candidateFiles(dir)).toEqual(['sub/dvc.yaml'])
  })
})

describe('parsed ids kept between two status calls', () => {
  it('gives the id CID.parse gives, the same object for the same text, and stays bounded', () => {
    const text = 'bafkreie7ohywtosou76tasm7j63yigtzxe7d5zqus4zu3j6oltvgtibeom'
    const a = parseCidCached(text)
    expect(a.equals(CID.parse(text))).toBe(true)
    expect(parseCidCached(text)).toBe(a)
    // as many other ids again: the first one is dropped, and parsed afresh
    for (let i = 0; i < CID_CACHE_ENTRIES; i++) parseCidCached(CID.createV1(0x55, identity.digest(new TextEncoder().encode(`id ${i}`))).toString())
    const again = parseCidCached(text)
    expect(again).not.toBe(a)
    expect(again.equals(a)).toBe(true)
    expect(() => parseCidCached('not-a-cid')).toThrow()
  })
})

describe('walkTree paths', () => {
  it('names every entry by its normalised path, whatever the spelling of the top', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'mlp-walk-'))
    await mkdir(join(dir, 'a', 'b'), { recursive: true })
    await writeFile(join(dir, 'a', 'b', 'f.txt'), 'x')
    await writeFile(join(dir, 'a', 'g.txt'), 'y')
    const paths = (e: TreeEntry): string[] => e.kind === 'dir' ? [e.path, ...e.children.flatMap(paths)] : [e.path]
    const want = [join(dir, 'a'), join(dir, 'a', 'b'), join(dir, 'a', 'b', 'f.txt'), join(dir, 'a', 'g.txt')]
    for (const spelling of [join(dir, 'a'), `${dir}/a/`, `${dir}//a`, `${dir}/./a/b/..`]) {
      expect(paths(walkTree(spelling, 'a'))).toEqual(want)
    }
  })
})
