import { readFile } from 'node:fs/promises'
import { LineCounter, parseDocument, isMap, isScalar, isSeq, type Node } from 'yaml'
import { ConfigError } from '@mlp/proto'
import { DEFAULT_LISTEN } from './constants.js'
import { LOG_LEVELS, type LogLevel } from './logger.js'
import { DEFAULT_COMPACT_BELOW } from './store/constants.js'
import { parseMultiaddr } from './multiaddrs.js'
import { DEFAULT_REPLICA_MIN_FREE, DEFAULT_REPLICA_QUOTA, parseSize } from './trust/team-quota.js'
import { parseSlurmConfig, SLURM_KEYS, type SlurmConfig } from './exec/slurm/config.js'

/** The daemon's configuration after config.yaml and flags are merged. */
export interface DaemonConfig {
  /** Multiaddrs to listen on (default {@link DEFAULT_LISTEN}). */
  listen: string[]
  /** Peers dialed at start and redialed while down (default none). */
  bootstrap: string[]
  /** mDNS discovery on the LAN (default true). */
  mdns: boolean
  /** Lowest level written to daemon.log (default `info`). */
  logLevel: LogLevel
  /** Swarm key file for a private team network (default `MLP_HOME/swarm.key` if it exists). */
  swarmKey?: string
  /** How this machine runs peers' jobs: `sandbox: false` runs them without bubblewrap (default true: sandboxed, and a job fails if bwrap cannot run). */
  executor: { sandbox: boolean, simulatedGpus?: number, /** `kind: slurm`: stages placed here go to this Slurm partition (default: run locally). */ slurm?: SlurmConfig }
  /** Bytes of copies (`push --to`) one teammate may have kept here (default 50 GiB). */
  replicaQuota: number
  /** Free space a copy for a teammate must leave on the store's disk (default 1 GiB; 5% of the disk at least). */
  replicaMinFree: number
  /** Days a run-cache entry stored here keeps its outs from gc, whatever the lock files say (default 7; 0: none). */
  gcKeepRunCacheDays: number
  /** gc rewrites a pack file whose live share is below this, above 0 and at most 1 (default 0.5: only packs mostly dead, so each byte copied frees one at least; 1: every pack holding a dead byte). */
  gcCompactBelow: number
}

/** Values given on the command line; each one present overrides config.yaml. */
export type ConfigOverrides = Partial<DaemonConfig>

/** Most stand-in GPUs `executor.simulatedGpus` may declare. */
const MAX_SIMULATED_GPUS = 16

/** Keys accepted in config.yaml, for the "unknown key" message. */
export const CONFIG_KEYS: ReadonlyArray<keyof DaemonConfig> = ['listen', 'bootstrap', 'mdns', 'logLevel', 'swarmKey', 'executor', 'replicaQuota', 'replicaMinFree', 'gcKeepRunCacheDays', 'gcCompactBelow']

/** Days a run-cache entry keeps its outs from gc unless config.yaml says otherwise. */
export const DEFAULT_GC_KEEP_RUN_CACHE_DAYS = 7

/** Defaults used for every key config.yaml leaves out. */
export function defaultConfig (): DaemonConfig {
  return { listen: [...DEFAULT_LISTEN], bootstrap: [], mdns: true, logLevel: 'info', executor: { sandbox: true }, replicaQuota: DEFAULT_REPLICA_QUOTA, replicaMinFree: DEFAULT_REPLICA_MIN_FREE, gcKeepRunCacheDays: DEFAULT_GC_KEEP_RUN_CACHE_DAYS, gcCompactBelow: DEFAULT_COMPACT_BELOW }
}

/**
 * Parses and validates config.yaml text. Every error names the file, the line
 * and the key, so the user can fix it without guessing.
 */
export function parseConfig (text: string, file = 'config.yaml'): Partial<DaemonConfig> {
  const lines = new LineCounter()
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false })
  const where = (node: Node | null | undefined): string => {
    const offset = node?.range?.[0]
    return offset == null ? file : `${file}:${lines.linePos(offset).line}`
  }
  if (doc.errors.length > 0) {
    const first = doc.errors[0]
    const line = first.linePos?.[0].line
    throw new ConfigError(`${file}${line != null ? `:${line}` : ''}: not valid YAML: ${first.message.split('\n')[0]}`)
  }
  if (doc.contents == null) return {}
  if (!isMap(doc.contents)) throw new ConfigError(`${where(doc.contents)}: config must be a mapping of keys to values`)

  const out: Partial<DaemonConfig> = {}
  for (const pair of doc.contents.items) {
    const keyNode = pair.key as Node
    const key = isScalar(keyNode) ? String(keyNode.value) : String(keyNode)
    const value = pair.value as Node | null
    const at = where(keyNode)
    const stringList = (what: string): string[] => {
      if (!isSeq(value)) throw new ConfigError(`${at}: '${key}' must be a list of ${what}`)
      return value.items.map((item) => {
        const node = item as Node
        if (!isScalar(node) || typeof node.value !== 'string') throw new ConfigError(`${where(node)}: '${key}' entries must be ${what}`)
        return node.value
      })
    }
    switch (key) {
      case 'listen':
      case 'bootstrap': {
        const addrs = stringList('multiaddrs')
        for (const addr of addrs) {
          try {
            parseMultiaddr(addr, `'${key}' address`)
          } catch (err) {
            throw new ConfigError(`${at}: ${(err as Error).message}`)
          }
        }
        out[key] = addrs
        break
      }
      case 'mdns':
        if (!isScalar(value) || typeof value.value !== 'boolean') throw new ConfigError(`${at}: 'mdns' must be true or false`)
        out.mdns = value.value
        break
      case 'logLevel':
        if (!isScalar(value) || !LOG_LEVELS.includes(value.value as LogLevel)) {
          throw new ConfigError(`${at}: 'logLevel' must be one of ${LOG_LEVELS.join(', ')}`)
        }
        out.logLevel = value.value as LogLevel
        break
      case 'swarmKey':
        if (!isScalar(value) || typeof value.value !== 'string' || value.value === '') throw new ConfigError(`${at}: 'swarmKey' must be the path of a swarm key file`)
        out.swarmKey = value.value
        break
      case 'executor': {
        if (!isMap(value)) throw new ConfigError(`${at}: 'executor' must be a mapping such as {sandbox: true}`)
        const executor: DaemonConfig['executor'] = { sandbox: true }
        // kind: slurm and its keys are read together after the loop: they only mean something as a whole
        const slurm: Record<string, unknown> = {}
        const slurmAt: Record<string, string> = {}
        for (const item of value.items) {
          const sub = item.key as Node
          const name = isScalar(sub) ? String(sub.value) : String(sub)
          const v = item.value as Node | null
          if (name === 'kind' || (SLURM_KEYS as readonly string[]).includes(name)) {
            slurm[name] = isScalar(v) ? v.value : (v as { toJSON?: () => unknown } | null)?.toJSON?.() ?? null
            slurmAt[name] = where(sub)
            continue
          }
          // stand-in GPUs for tutorials and CI: marked simulated everywhere, never placed on without opt-in
          if (name === 'simulatedGpus') {
            executor.simulatedGpus = simulatedGpus(v, where(sub))
            continue
          }
          if (name !== 'sandbox') throw new ConfigError(`${where(sub)}: unknown key 'executor.${name}' (known keys: sandbox, simulatedGpus, kind, ${SLURM_KEYS.join(', ')})`)
          if (!isScalar(v) || typeof v.value !== 'boolean') throw new ConfigError(`${where(sub)}: 'executor.sandbox' must be true or false`)
          executor.sandbox = v.value
        }
        const kind = slurm.kind ?? 'local'
        const { kind: _, ...slurmKeys } = slurm
        if (kind !== 'local' && kind !== 'slurm') throw new ConfigError(`${slurmAt.kind}: 'executor.kind' must be local or slurm`)
        if (kind === 'slurm') executor.slurm = parseSlurmConfig(slurmKeys, (k) => slurmAt[k] ?? at)
        else if (Object.keys(slurmKeys).length > 0) throw new ConfigError(`${slurmAt[Object.keys(slurmKeys)[0]]}: 'executor.${Object.keys(slurmKeys)[0]}' needs 'executor.kind: slurm'`)
        out.executor = executor
        break
      }
      case 'replicaQuota':
      case 'replicaMinFree': {
        const bytes = isScalar(value) ? parseSize(value.value) : undefined
        if (bytes == null) throw new ConfigError(`${at}: '${key}' must be a size: bytes, or a number with a unit such as 50GiB or 512MiB`)
        out[key] = bytes
        break
      }
      case 'gcKeepRunCacheDays':
        if (!isScalar(value) || typeof value.value !== 'number' || !Number.isFinite(value.value) || value.value < 0) throw new ConfigError(`${at}: 'gcKeepRunCacheDays' must be a number of days, 0 or more`)
        out.gcKeepRunCacheDays = value.value
        break
      case 'gcCompactBelow':
        // 0 would never rewrite a pack holding a live byte: its dead bytes would stay on disk for good
        if (!isScalar(value) || typeof value.value !== 'number' || !Number.isFinite(value.value) || value.value <= 0 || value.value > 1) throw new ConfigError(`${at}: 'gcCompactBelow' must be a number above 0 and at most 1 (the live share below which gc rewrites a pack; default ${DEFAULT_COMPACT_BELOW})`)
        out.gcCompactBelow = value.value
        break
      default:
        throw new ConfigError(`${at}: unknown key '${key}' (known keys: ${CONFIG_KEYS.join(', ')})`)
    }
  }
  return out
}

/** The value of `executor.simulatedGpus`: a whole number up to {@link MAX_SIMULATED_GPUS}. */
function simulatedGpus (v: Node | null, at: string): number {
  if (!isScalar(v) || !Number.isInteger(v.value) || (v.value as number) < 0 || (v.value as number) > MAX_SIMULATED_GPUS) throw new ConfigError(`${at}: 'executor.simulatedGpus' must be a whole number from 0 to ${MAX_SIMULATED_GPUS}`)
  return v.value as number
}

/** Reads config.yaml (a missing file means all defaults) and applies the overrides. */
export async function loadConfig (file: string, overrides: ConfigOverrides = {}): Promise<DaemonConfig> {
  let text = ''
  try {
    text = await readFile(file, 'utf8')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw new ConfigError(`cannot read ${file}: ${(err as Error).message}`, { cause: err })
  }
  const fromFile = parseConfig(text, file)
  const config = { ...defaultConfig(), ...fromFile }
  for (const [key, value] of Object.entries(overrides)) {
    if (value !== undefined) (config as unknown as Record<string, unknown>)[key] = value
  }
  for (const addr of [...config.listen, ...config.bootstrap]) parseMultiaddr(addr)
  return config
}
