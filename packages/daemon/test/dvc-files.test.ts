import { createHash } from 'node:crypto'
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { dirMd5, dvcCachePath, dvcFileMd5, parseDvcFile, parseDvcLock, readDirManifest } from '../src/tracking/dvc-files.js'

const md5 = (b: Buffer | string): string => createHash('md5').update(b).digest('hex')
const dir = mkdtempSync(join(tmpdir(), 'mlp-dvc-files-'))
afterAll(() => { rmSync(dir, { recursive: true, force: true }) })

function put (rel: string, data: Buffer | string): string {
  const file = join(dir, rel)
  mkdirSync(dirname(file), { recursive: true })
  writeFileSync(file, data)
  return file
}

describe('DVC md5s', () => {
  it('hashes DVC 3 entries as bytes and DVC 2 text files after dos2unix', async () => {
    const crlf = put('crlf.txt', 'a,b\r\nc,d\r\n')
    expect(await dvcFileMd5(crlf, false)).toBe(md5('a,b\r\nc,d\r\n'))
    expect(await dvcFileMd5(crlf, true)).toBe(md5('a,b\nc,d\n'))
    // a binary file (a NUL in its first 512 bytes) is hashed as is, even for DVC 2
    const bin = put('crlf.bin', Buffer.from([0, 13, 10, 1]))
    expect(await dvcFileMd5(bin, true)).toBe(md5(Buffer.from([0, 13, 10, 1])))
  })

  it('turns a CRLF split across read chunks into LF, and keeps a lone CR', async () => {
    // the stream reads 64 KiB at a time: put the CR last in the first chunk
    const text = 'x'.repeat(65535) + '\r\n' + 'tail\r'
    const file = put('split.txt', text)
    expect(await dvcFileMd5(file, true)).toBe(md5('x'.repeat(65535) + '\ntail\r'))
  })

  it('gives a directory the md5 of DVC\'s sorted JSON manifest', () => {
    const entries = [{ relpath: 'b/é.txt', md5: md5('2') }, { relpath: 'a.txt', md5: md5('1') }]
    const text = `[{"md5": "${md5('1')}", "relpath": "a.txt"}, {"md5": "${md5('2')}", "relpath": "b/\\u00e9.txt"}]`
    expect(dirMd5(entries)).toBe(md5(text) + '.dir')
  })

  it('reads a manifest only when its bytes match its name', async () => {
    const text = `[{"md5": "${md5('1')}", "relpath": "a.txt"}]`
    const good = put('good.dir', text)
    expect(await readDirManifest(good, md5(text) + '.dir')).toEqual([{ md5: md5('1'), relpath: 'a.txt' }])
    const bad = put('bad.dir', text.replace('a.txt', 'b.txt'))
    await expect(readDirManifest(bad, md5(text) + '.dir')).rejects.toThrow(/does not match its md5/)
  })
})

describe('DVC cache layouts', () => {
  it('finds DVC 3 files/md5 entries, then DVC 2 ones, and nothing else', () => {
    const root = join(dir, 'repo')
    const v3 = md5('three')
    const v2 = md5('two')
    put(`repo/.dvc/cache/files/md5/${v3.slice(0, 2)}/${v3.slice(2)}`, 'three')
    put(`repo/.dvc/cache/${v2.slice(0, 2)}/${v2.slice(2)}`, 'two')
    expect(dvcCachePath(root, v3)).toBe(join(root, '.dvc/cache/files/md5', v3.slice(0, 2), v3.slice(2)))
    expect(dvcCachePath(root, v2)).toBe(join(root, '.dvc/cache', v2.slice(0, 2), v2.slice(2)))
    expect(dvcCachePath(root, md5('absent'))).toBeUndefined()
    // not an md5: never turned into a path
    expect(dvcCachePath(root, '../../etc/passwd')).toBeUndefined()
  })
})

describe('DVC files', () => {
  it('parses .dvc files: DVC 2 entries are legacy, imports are marked', () => {
    const v3 = parseDvcFile('outs:\n- md5: abc\n  size: 3\n  hash: md5\n  path: data.xml\n', 'data.xml.dvc')
    expect(v3).toMatchObject({ imported: false, stage: false, wdir: '.', outs: [{ path: 'data.xml', md5: 'abc', legacy: false, cache: true }] })
    const v2 = parseDvcFile('outs:\n- md5: abc\n  path: data.xml\n', 'data.xml.dvc')
    expect(v2.outs[0].legacy).toBe(true)
    const imported = parseDvcFile('deps:\n- path: https://example.com/x.csv\nouts:\n- md5: abc\n  path: x.csv\n', 'x.csv.dvc')
    expect(imported.imported).toBe(true)
    expect(() => parseDvcFile('outs: [', 'bad.dvc')).toThrow(/bad.dvc: not valid YAML/)
  })

  it('parses dvc.lock stages with their params', () => {
    const lock = parseDvcLock("schema: '2.0'\nstages:\n  train:\n    cmd: python train.py\n    deps:\n    - path: data\n      md5: abc.dir\n    params:\n      params.yaml:\n        lr: 1e-05\n    outs:\n    - path: model.pkl\n      md5: def\n", 'dvc.lock')
    expect(lock.train).toMatchObject({ cmd: 'python train.py', params: { 'params.yaml': { lr: 1e-5 } }, deps: [{ path: 'data', md5: 'abc.dir' }], outs: [{ path: 'model.pkl', md5: 'def' }] })
  })
})
