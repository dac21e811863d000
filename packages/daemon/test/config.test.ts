import { mkdtemp, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { DEFAULT_LISTEN } from '../src/constants.js'
import { loadConfig, parseConfig } from '../src/config.js'

describe('config.yaml', () => {
  it('parses every key', () => {
    expect(parseConfig('listen:\n  - /ip4/0.0.0.0/tcp/4000\nbootstrap: [/ip4/10.0.0.2/tcp/4737]\nmdns: false\nlogLevel: debug\n')).toEqual({
      listen: ['/ip4/0.0.0.0/tcp/4000'], bootstrap: ['/ip4/10.0.0.2/tcp/4737'], mdns: false, logLevel: 'debug'
    })
  })

  it('empty text means defaults', async () => {
    expect(parseConfig('')).toEqual({})
    const dir = await mkdtemp(join(tmpdir(), 'mlp-config-'))
    expect(await loadConfig(join(dir, 'missing.yaml'))).toMatchObject({ listen: [...DEFAULT_LISTEN], bootstrap: [], mdns: true, logLevel: 'info', replicaQuota: 50 * 1024 ** 3, replicaMinFree: 1024 ** 3 })
  })

  it('names file, line and key in every error', () => {
    expect(() => parseConfig('mdns: true\n\nlisten: 5\n', 'c.yaml')).toThrow("c.yaml:3: 'listen' must be a list of multiaddrs")
    expect(() => parseConfig('logLevel: loud\n', 'c.yaml')).toThrow("c.yaml:1: 'logLevel' must be one of debug, info, warn, error")
    expect(() => parseConfig('bootstrap:\n  - /ip4/1.2.3.4/tcp/1\n  - 7\n', 'c.yaml')).toThrow("c.yaml:3: 'bootstrap' entries must be multiaddrs")
    expect(() => parseConfig('- a\n- b\n', 'c.yaml')).toThrow('c.yaml:1: config must be a mapping')
    // a substring: other keys follow swarmKey in the list
    expect(() => parseConfig('swarmkey: x\n', 'c.yaml')).toThrow("c.yaml:1: unknown key 'swarmkey' (known keys: listen, bootstrap, mdns, logLevel, swarmKey")
  })

  it('reads sizes as bytes or with a unit, and refuses anything else', () => {
    expect(parseConfig('replicaQuota: 50GiB\nreplicaMinFree: 1048576\n')).toEqual({ replicaQuota: 50 * 1024 ** 3, replicaMinFree: 1024 ** 2 })
    expect(parseConfig('replicaQuota: 1.5 MB\n')).toEqual({ replicaQuota: 1_500_000 })
    expect(() => parseConfig('mdns: true\nreplicaQuota: lots\n', 'c.yaml')).toThrow("c.yaml:2: 'replicaQuota' must be a size")
    expect(() => parseConfig('replicaMinFree: -1\n', 'c.yaml')).toThrow("c.yaml:1: 'replicaMinFree' must be a size")
  })

  it('reads executor: {sandbox} and names the line of a bad or unknown sub-key', async () => {
    expect(parseConfig('executor: {sandbox: false}\n')).toEqual({ executor: { sandbox: false } })
    expect(parseConfig('executor:\n  sandbox: true\n')).toEqual({ executor: { sandbox: true } })
    expect(() => parseConfig('executor: true\n', 'c.yaml')).toThrow("c.yaml:1: 'executor' must be a mapping")
    expect(() => parseConfig('mdns: true\nexecutor:\n  sandbox: no-thanks\n', 'c.yaml')).toThrow("c.yaml:3: 'executor.sandbox' must be true or false")
    expect(() => parseConfig('executor:\n  sandbx: false\n', 'c.yaml')).toThrow("c.yaml:2: unknown key 'executor.sandbx'")
    const dir = await mkdtemp(join(tmpdir(), 'mlp-config-'))
    expect((await loadConfig(join(dir, 'missing.yaml'))).executor).toEqual({ sandbox: true })
  })

  it('flags override the file', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'mlp-config-'))
    const file = join(dir, 'config.yaml')
    await writeFile(file, 'mdns: true\nlisten: [/ip4/0.0.0.0/tcp/1]\n')
    const config = await loadConfig(file, { mdns: false, listen: undefined })
    expect(config.mdns).toBe(false)
    expect(config.listen).toEqual(['/ip4/0.0.0.0/tcp/1'])
  })
})
