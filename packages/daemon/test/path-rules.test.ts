import * as dagPb from '@ipld/dag-pb'
import { UnixFS } from 'ipfs-unixfs'
import { describe, expect, it } from 'vitest'
import { DAG_PB_CODEC, RAW_CODEC } from '../src/store/constants.js'
import { decodeNode } from '../src/store/dag.js'
import { cidOf } from '../src/store/hash.js'
import { checkEntryName, checkRelativePath, entryNameProblem, entryNamesProblem, isDotGit, relativePathProblem, symlinkNameProblem } from '../src/store/path-rules.js'

/** Names that must be refused as one directory entry, and why (a word of the message). */
const BAD_NAMES: Array<[string, string]> = [
  ['', 'empty'],
  ['.', '"."'],
  ['..', '".."'],
  ['..\ufeff', 'the name'],
  ['\uff0e\uff0e', 'the name'],
  ['../x', 'separator'],
  ['a/../../x', 'separator'],
  ['../../../../tmp/y/x', 'separator'],
  ['/etc', 'separator'],
  ['a\\b', 'separator'],
  ['..\\x', 'separator'],
  ['a\u0000b', 'control'],
  ['line\nbreak', 'control'],
  ['esc\u001b[31m', 'control'],
  ['del\u007f', 'control'],
  ['.git', '.git'],
  ['.GIT', '.git'],
  ['.Git', '.git'],
  ['.git.', '.git'],
  ['.git..', '.git'],
  ['.git ', '.git'],
  ['.git . ', '.git'],
  ['.git::$INDEX_ALLOCATION', '.git'],
  ['.git:stream', '.git'],
  ['git~1', '.git'],
  ['GIT~1', '.git'],
  ['git~1.', '.git'],
  ['.g\u200cit', '.git'], // HFS+ ignores zero-width non-joiner
  ['.gi\u200dt', '.git'],
  ['\ufeff.git', '.git'],
  ['.\u200eGIT', '.git'],
  ['.git\u206a', '.git'],
  ['\uff0e\uff47\uff49\uff54', '.git'] // fullwidth ．ｇｉｔ
]

/** Ordinary names that must pass. */
const GOOD_NAMES = ['data', 'model.bin', '.gitignore', '.github', '.gitattributes', '.gitmodules', 'git', 'gitx', '.git-foo', '.gitx', 'x.git', '.git~1', 'é.txt', 'e\u0301.txt', 'with space.csv', ' leading', 'trailing.', '...', '.hidden', 'ünïcødé', '日本語', 'a:b', 'emoji 🎉', '-rf', 'COM1']

describe('entry names', () => {
  it.each(BAD_NAMES)('refuses %j', (name, why) => {
    const problem = entryNameProblem(name)
    expect(problem).toBeDefined()
    expect(problem).toContain(why)
    expect(() => { checkEntryName(name) }).toThrow(expect.objectContaining({ name: 'UnsafePathError' }))
  })

  it.each(GOOD_NAMES)('accepts %j', (name) => {
    expect(entryNameProblem(name)).toBeUndefined()
    expect(() => { checkEntryName(name) }).not.toThrow()
  })

  it('names the bad entry JSON-escaped, so it cannot forge the rest of a line', () => {
    expect(entryNameProblem('a\nb')).toContain('"a\\nb"')
    expect(entryNameProblem('x/\u001b[2K')).toContain('\\u001b')
    expect(entryNameProblem('.g\u200cit')).toContain('".g\\u200cit"')
    expect(entryNameProblem('a\u2028b/')).toContain('\\u2028')
  })

  it('sees .git through case, HFS+ ignorables and NTFS aliases only', () => {
    expect(isDotGit('.GiT')).toBe(true)
    expect(isDotGit('.g\u200cit')).toBe(true)
    expect(isDotGit('GiT~1 .')).toBe(true)
    expect(isDotGit('.gitignore')).toBe(false)
    expect(isDotGit('git')).toBe(false)
  })
})

describe('symlink names', () => {
  it.each(['.gitmodules', '.GITATTRIBUTES', '.gitignore.', '.mailmap', '.g\u200citmodules'])('refuses a symlink named %j', (name) => {
    expect(symlinkNameProblem(name)).toContain('symlink')
  })

  it.each(['link', '.github', 'gitignore', '.gitignore2'])('accepts a symlink named %j', (name) => {
    expect(symlinkNameProblem(name)).toBeUndefined()
  })
})

/** Sets of names one directory may not hold together. */
const DUPLICATES: string[][] = [
  ['s', 's'],
  ['README', 'readme'],
  ['Data', 'DATA'],
  ['\u00e9.txt', 'e\u0301.txt'], // NFC and NFD spellings of é
  ['\u00c9.txt', 'e\u0301.txt'], // and case on top
  ['stra\u00dfe', 'STRASSE'], // ß folds to ss
  ['ab', 'a\u200cb'], // HFS+ ignorable
  ['K', '\u212a'], // KELVIN SIGN
  ['fi', '\ufb01'] // compatibility ligature
]

describe('names of one directory', () => {
  it.each(DUPLICATES)('refuses %j and %j together', (a, b) => {
    expect(entryNamesProblem(['other', a, 'x', b])).toMatch(/duplicate|same name/)
  })

  it('accepts distinct ordinary names', () => {
    expect(entryNamesProblem(['.gitignore', 'data', 'Data2', 'é.txt', 'e.txt', 'git', 'with space'])).toBeUndefined()
  })

  it('reports a bad name before looking for duplicates', () => {
    expect(entryNamesProblem(['ok', '..'])).toContain('".."')
  })
})

const BAD_PATHS = ['', '.', '/etc/passwd', '/abs', '..', '../x', 'a/../../x', 'a/./b', 'a//b', 'a/', './a', '.git', '.git/hooks/pre-commit', 'sub/.GIT/config', 'sub/git~1/x', 'a\\..\\b', 'a/b\u0000', 'x/.g\u200cit/hooks']
const GOOD_PATHS = ['data', 'data/train', 'model.bin', '.gitignore', '.github/workflows/ci.yml', 'nested/deep/é.txt', 'with space/file name', 'git/x', '...']

describe('relative paths (pointer paths, stage outs)', () => {
  it.each(BAD_PATHS)('refuses %j', (path) => {
    expect(relativePathProblem(path)).toBeDefined()
    expect(() => { checkRelativePath(path) }).toThrow(expect.objectContaining({ name: 'UnsafePathError' }))
  })

  it.each(GOOD_PATHS)('accepts %j', (path) => {
    expect(relativePathProblem(path)).toBeUndefined()
  })
})

function dirBlock (names: string[]): { cid: ReturnType<typeof cidOf>, bytes: Uint8Array } {
  const leaf = cidOf(RAW_CODEC, new Uint8Array([1]))
  const sorted = [...names].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)))
  const bytes = dagPb.encode({ Data: new UnixFS({ type: 'directory' }).marshal(), Links: sorted.map((n) => ({ Name: n, Hash: leaf, Tsize: 1 })) })
  return { cid: cidOf(DAG_PB_CODEC, bytes), bytes }
}

describe('decodeNode applies the rules to directory nodes', () => {
  it.each([['../x'], ['a/../../x'], ['..'], ['.GIT'], ['git~1'], ['s', 's'], ['A', 'a'], ['']])('refuses a directory holding %j', (...names) => {
    const { cid, bytes } = dirBlock(names)
    let err: Error | undefined
    try {
      decodeNode(cid, bytes)
    } catch (e) {
      err = e as Error
    }
    expect(err?.name).toBe('InvalidDagError')
    expect(err?.message).toContain(cid.toString())
    expect(err?.message.split('\n')).toHaveLength(1)
  })

  it.each([[''], ['a\u0000b']])('refuses a symlink with target %j', (target) => {
    const bytes = dagPb.encode({ Data: new UnixFS({ type: 'symlink', data: Buffer.from(target) }).marshal(), Links: [] })
    expect(() => decodeNode(cidOf(DAG_PB_CODEC, bytes), bytes)).toThrow(expect.objectContaining({ name: 'InvalidDagError' }))
  })

  it('decodes a directory of ordinary names', () => {
    const { cid, bytes } = dirBlock(['.gitignore', 'data', 'é.txt', 'git'])
    const node = decodeNode(cid, bytes)
    expect(node.kind === 'directory' ? node.entries.map((e) => e.name) : []).toEqual(['.gitignore', 'data', 'git', 'é.txt'])
  })
})
