import { existsSync } from 'node:fs'
import { basename, dirname, join, normalize, relative, sep } from 'node:path'
import { LineCounter, parseDocument, isMap, isScalar, type Document } from 'yaml'
import { slurmTime } from '../exec/slurm/time-limit.js'
import { PipelineError } from './errors.js'
import { ExpansionBudget, foreachCount, matrixCount } from './expansion.js'
import { readPipelineText } from './file-size.js'
import { metricDirections, type MetricDirection } from './metric-direction.js'
import { readParsingConfig } from './dvc-config.js'
import type { ParsingConfig } from './render.js'
import { isComposite, jsonTemplateValues, plainValue, templateValues } from './py-float.js'
import { interpolate, toStr, type Context } from './template.js'

/** One output of a stage. */
export interface StageOut {
  path: string
  /** false: not stored (`cache: false`, `-O`); still tracked in the lock. */
  cache: boolean
  /** true: not deleted before the stage runs. */
  persist: boolean
  kind: 'out' | 'metric' | 'plot'
  /** A `plots:` out given as a mapping: its options as written (`x`, `y`, `template`, `title`, ...); see plots/declarations.ts. */
  plot?: Record<string, unknown>
}

/** One entry of the top-level `plots:` list: a data file or a plot id, and its options (empty for a bare path). */
export interface TopLevelPlot {
  /** Relative to the pipeline file's folder when it is a path. */
  key: string
  options: Record<string, unknown>
}

/** Params a stage depends on: some keys of a file, or (keys null) the whole file. */
export interface ParamRef {
  file: string
  keys: string[] | null
}

/** Compute a stage needs. */
export interface Resources {
  gpu: number
  gpuMemoryMib?: number
  gpuModel?: string
  /** CPUs per task (`cpus`): sbatch `--cpus-per-task` on a Slurm executor. */
  cpus?: number
  /** Memory in MiB (`memory_mib`): sbatch `--mem` on a Slurm executor. */
  memoryMib?: number
  /** Wall-time limit in Slurm's format (`time: 90`, `time: "04:00:00"`): sbatch `--time` on a Slurm executor. */
  time?: string
}

/** A stage after foreach/matrix expansion and `${}` interpolation. */
export interface Stage {
  /** `train`, `train@cnn`, `train@a-b`. */
  name: string
  /** Commands, run in order in one shell each; the first failure stops the stage. */
  cmd: string[]
  /** Working directory relative to the project root. */
  wdir: string
  /** Paths relative to `wdir`. */
  deps: string[]
  outs: StageOut[]
  params: ParamRef[]
  frozen: boolean
  alwaysChanged: boolean
  resources?: Resources
  runOn?: string
  /** `meta.mlp.metrics`: which way each metric is better (pipeline/metric-direction.ts). */
  metricsBetter?: Record<string, MetricDirection>
  /** Line of the stage in its file, for errors. */
  line: number
  /** The pipeline file it comes from, set when a project has several (errors then name it). */
  file?: string
}

/** A parsed pipeline file. */
export interface Pipeline {
  file: string
  stages: Stage[]
  /** Top-level `metrics:`: metrics files relative to the file's folder, whichever stage (if any) writes them. */
  metrics: string[]
  /** Top-level `params:`: params files relative to the file's folder, diffed even when no stage names them. */
  params: string[]
  /** Top-level `plots:`: each a file path or a plot id (a mapping's key). */
  plots: string[]
  /** The same entries with their options, in order (absent where no file was read). */
  plotDefs?: TopLevelPlot[]
}

const STAGE_KEYS = ['cmd', 'wdir', 'deps', 'outs', 'params', 'metrics', 'plots', 'frozen', 'always_changed', 'meta', 'desc', 'vars', 'resources', 'run_on', 'foreach', 'do', 'matrix']
const OUT_KEYS = ['cache', 'persist', 'desc', 'remote', 'push', 'checkpoint', 'type', 'labels', 'meta', 'title', 'x', 'y', 'x_label', 'y_label', 'template', 'header']
const TOP_KEYS = ['stages', 'vars', 'params', 'metrics', 'plots', 'artifacts', 'datasets']

/** The pipeline file of a project: mlp.yaml, else dvc.yaml (read as if it were mlp.yaml). */
export function pipelineFile (root: string): string | undefined {
  for (const name of ['mlp.yaml', 'dvc.yaml']) if (existsSync(join(root, name))) return join(root, name)
  return undefined
}

function readYaml (file: string, root: string | undefined, where = file, floats = false): unknown {
  let text: string
  try {
    text = readPipelineText(file, root)
  } catch (err) {
    if (err instanceof PipelineError) throw err
    throw new PipelineError(`${where}: cannot read ${file}: ${(err as Error).message}`, { cause: err })
  }
  if (file.endsWith('.json')) {
    try {
      const parsed: unknown = JSON.parse(text)
      return floats ? jsonTemplateValues(text, parsed) : parsed
    } catch (err) {
      throw new PipelineError(`${file}: not valid JSON: ${(err as Error).message}`)
    }
  }
  const lines = new LineCounter()
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false })
  if (doc.errors.length > 0) throw new PipelineError(`${file}:${doc.errors[0].linePos?.[0].line ?? 1}: not valid YAML: ${doc.errors[0].message.split('\n')[0]}`)
  return floats ? templateValues(doc) : doc.toJS()
}

/**
 * Values of a params or vars file (YAML or JSON); absent file: empty. With
 * `root`, a file whose real path leaves that project is refused. With
 * `floats` (templating only), floats are `PyFloat`s; without, plain numbers
 * (what the lock, `params diff` and run-cache keys record).
 */
export function readParamsFile (file: string, root?: string, floats = false): Record<string, unknown> {
  if (!existsSync(file)) return {}
  const v = readYaml(file, root, file, floats)
  if (v == null) return {}
  if (!isComposite(v) || Array.isArray(v)) throw new PipelineError(`${file}: params must be a mapping`)
  return v as Record<string, unknown>
}

function merge (into: Context, from: Record<string, unknown>): Context {
  for (const [k, v] of Object.entries(from)) into[k] = v
  return into
}

/** `vars:` entries: files (`params.json`, `conf.yaml:key1,key2`) or inline mappings; files are relative to `dir` and must stay inside `inside`. */
function loadVars (vars: unknown, dir: string, where: string, inside = dir): Context {
  const ctx: Context = {}
  if (vars == null) return ctx
  if (!Array.isArray(vars)) throw new PipelineError(`${where}: 'vars' must be a list of files or mappings`)
  for (const entry of vars) {
    if (typeof entry === 'string') {
      const [name, keys] = entry.split(':')
      const values = readParamsFile(join(dir, name), inside, true)
      if (!existsSync(join(dir, name))) throw new PipelineError(`${where}: vars file '${name}' does not exist`)
      merge(ctx, keys == null ? values : Object.fromEntries(keys.split(',').map((k) => [k, values[k]])))
    } else if (isComposite(entry) && !Array.isArray(entry)) {
      merge(ctx, entry as Record<string, unknown>)
    } else {
      throw new PipelineError(`${where}: each 'vars' entry must be a file name or a mapping`)
    }
  }
  return ctx
}

/** Options of {@link loadPipeline}. */
export interface LoadOptions {
  /**
   * The project root, for a pipeline file that may sit in a subfolder of
   * it. As in DVC, such a file's stages are named `sub/dvc.yaml:stage`,
   * their `wdir` defaults to the file's folder (so `Stage.wdir` stays
   * relative to the project root) and their paths may reach above that
   * folder, but not out of the project. Absent: the file is a project root's.
   */
  root?: string
}

/**
 * Reads and expands a pipeline file: `vars` and params.yaml into the context,
 * `foreach`/`do` and `matrix` into one stage each with DVC's names
 * (`name@key`, `name@a-b`), `${}` interpolated. Every error names the file,
 * line and stage. The file is at most `MAX_PIPELINE_FILE_BYTES` and expands
 * to at most `MAX_STAGES` stages, counted before expanding.
 */
export function loadPipeline (file: string, options: LoadOptions = {}): Pipeline {
  const dir = dirname(file)
  // the folder of the file relative to the project root, '/'-separated; '' at the root
  const prefix = options.root == null ? '' : relative(options.root, dir).split(sep).join('/')
  if (prefix.startsWith('..')) throw new PipelineError(`${file}: not inside the project ${options.root ?? ''}`)
  const inside = prefix === '' ? dir : options.root as string
  const address = (name: string): string => prefix === '' ? name : `${prefix}/${basename(file)}:${name}`
  const text = (() => {
    try {
      return readPipelineText(file, inside)
    } catch (err) {
      if (err instanceof PipelineError) throw err
      throw new PipelineError(`cannot read ${file}: ${(err as Error).message}`)
    }
  })()
  const lines = new LineCounter()
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false })
  if (doc.errors.length > 0) throw new PipelineError(`${file}:${doc.errors[0].linePos?.[0].line ?? 1}: not valid YAML: ${doc.errors[0].message.split('\n')[0]}`)
  const top = doc.toJS() as Record<string, unknown> | null
  if (top == null) return { file, stages: [], metrics: [], params: [], plots: [] }
  if (typeof top !== 'object' || Array.isArray(top)) throw new PipelineError(`${file}:1: expected a mapping with 'stages'`)
  for (const key of Object.keys(top)) {
    if (!TOP_KEYS.includes(key)) throw new PipelineError(`${file}:${lineOf(doc, lines, [key])}: unknown top-level key '${key}' (known: ${TOP_KEYS.join(', ')})`)
  }
  // the same values with floats kept (`1.0` renders `1.0`), for templating only: vars, foreach, matrix, stage bodies
  const typed = templateValues(doc) as Record<string, unknown>
  const typedStages = (typed.stages ?? {}) as Record<string, Record<string, unknown>>
  const global = merge(readParamsFile(join(dir, 'params.yaml'), inside, true), loadVars(typed.vars, dir, `${file}:${lineOf(doc, lines, ['vars'])}`, inside))
  const stagesRaw = top.stages ?? {}
  if (typeof stagesRaw !== 'object' || Array.isArray(stagesRaw)) throw new PipelineError(`${file}:${lineOf(doc, lines, ['stages'])}: 'stages' must be a mapping of stage names to stages`)
  const stages: Stage[] = []
  const budget = new ExpansionBudget()
  const parsing = readParsingConfig(options.root ?? dir)
  for (const [name, raw] of Object.entries(stagesRaw as Record<string, unknown>)) {
    const line = lineOf(doc, lines, ['stages', name])
    const where = `${file}:${line}: stage '${name}'`
    if (name.includes('@') || name.includes(':') || name.includes('/')) throw new PipelineError(`${where}: a stage name cannot contain '@', ':' or '/'`)
    if (raw == null || typeof raw !== 'object' || Array.isArray(raw)) throw new PipelineError(`${where}: a stage must be a mapping with at least 'cmd'`)
    const def = typedStages[name]
    for (const key of Object.keys(def)) {
      if (!STAGE_KEYS.includes(key)) throw new PipelineError(`${file}:${lineOf(doc, lines, ['stages', name, key])}: stage '${name}': unknown key '${key}'`)
    }
    const ctx = merge({ ...global }, loadVars(def.vars, dir, where, inside))
    for (const [suffix, extra, body] of expand(name, def, ctx, where, budget)) {
      // an address is `path/dvc.yaml:stage`: a ':' in an item's key would make
      // `t@x:fit` read as stage `fit`, and its lock entry overwrite fit's
      if (suffix?.includes(':') === true) throw new PipelineError(`${where}: the foreach/matrix item '${suffix}' cannot contain ':' (it names the stage ${name}@${suffix}, and ':' separates a pipeline file from a stage name)`)
      stages.push(buildStage(address(suffix == null ? name : `${name}@${suffix}`), body, merge({ ...ctx }, extra), line, file, budget, parsing, prefix))
    }
  }
  const seen = new Set<string>()
  for (const s of stages) {
    if (seen.has(s.name)) throw new PipelineError(`${file}:${s.line}: stage '${s.name}' is defined twice`)
    seen.add(s.name)
  }
  return { file, stages, ...topLists(top, global, file, budget, (key) => lineOf(doc, lines, [key]), prefix) }
}

/**
 * The top-level `metrics`, `params` and `plots` lists, interpolated with the
 * global context as DVC does; each entry a path (or, for plots, a mapping
 * whose one key is a path or plot id). Paths must stay inside the project.
 */
function topLists (top: Record<string, unknown>, ctx: Context, file: string, budget: ExpansionBudget, lineOfKey: (key: string) => number, prefix: string): Pick<Pipeline, 'metrics' | 'params' | 'plots' | 'plotDefs'> {
  const out: Pick<Pipeline, 'metrics' | 'params' | 'plots'> & { plotDefs: TopLevelPlot[] } = { metrics: [], params: [], plots: [], plotDefs: [] }
  for (const key of ['metrics', 'params', 'plots'] as const) {
    if (top[key] == null) continue
    const where = `${file}:${lineOfKey(key)}: top-level '${key}'`
    const list = plainValue(interpolate(top[key], ctx, where, budget))
    if (!Array.isArray(list)) throw new PipelineError(`${where}: must be a list`)
    for (const entry of list) {
      const isMapping = entry != null && typeof entry === 'object' && !Array.isArray(entry)
      // a plot may carry its options (`- path: {x: ..}`); metrics and params files are plain paths
      const path = typeof entry === 'string' ? entry : key === 'plots' && isMapping && Object.keys(entry).length === 1 ? Object.keys(entry)[0] : undefined
      if (path == null || path === '') throw new PipelineError(`${where}: each entry must be a path${key === 'plots' ? ' or a mapping of one path to its options' : ''}`)
      if (path.startsWith('/') || normalize(join(prefix, path)).split('/')[0] === '..') throw new PipelineError(`${where}: path '${path}' must stay inside the project`)
      out[key].push(path)
      if (key === 'plots') {
        const options = isMapping ? Object.values(entry)[0] ?? {} : {}
        if (typeof options !== 'object' || Array.isArray(options)) throw new PipelineError(`${where}: plot '${path}': its options must be a mapping (x, y, template, title...)`)
        out.plotDefs.push({ key: path, options: options as Record<string, unknown> })
      }
    }
  }
  return out
}

function lineOf (doc: Document, lines: LineCounter, path: string[]): number {
  let node: unknown = doc.contents
  for (const key of path) {
    if (!isMap(node)) break
    const pair = node.items.find((p) => isScalar(p.key) && String(p.key.value) === key)
    if (pair == null) break
    if (pair === undefined) break
    const k = pair.key as { range?: [number, number, number] }
    if (key === path[path.length - 1] && k.range != null) return lines.linePos(k.range[0]).line
    node = pair.value
  }
  return 1
}

/** JSON size of a stage body, the unit {@link ExpansionBudget} counts copies of. */
function bodyBytes (body: unknown): number {
  return JSON.stringify(body)?.length ?? 0
}

/**
 * Name suffixes and extra context of each generated stage; [undefined] for a
 * plain stage. The count is checked against `budget` before anything is built.
 */
function expand (name: string, def: Record<string, unknown>, ctx: Context, where: string, budget: ExpansionBudget): Array<[string | undefined, Context, Record<string, unknown>]> {
  if ('foreach' in def) {
    if (!('do' in def)) throw new PipelineError(`${where}: 'foreach' needs 'do'`)
    const extraKeys = Object.keys(def).filter((k) => k !== 'foreach' && k !== 'do' && k !== 'vars')
    if (extraKeys.length > 0) throw new PipelineError(`${where}: with 'foreach', '${extraKeys[0]}' belongs inside 'do'`)
    const items = interpolate(def.foreach, ctx, where, budget)
    const body = def.do as Record<string, unknown>
    if (!isComposite(body) || Array.isArray(body)) throw new PipelineError(`${where}: 'do' must be a stage mapping`)
    const count = foreachCount(items)
    if (count != null) budget.add(where, count, bodyBytes(body))
    if (Array.isArray(items)) {
      // DVC: simple lists are keyed by value, lists holding lists or mappings by index
      const composite = items.some(isComposite)
      return items.map((item, i) => [composite ? String(i) : toStr(item), { item }, body])
    }
    if (isComposite(items)) {
      return Object.entries(items as Record<string, unknown>).map(([key, item]) => [key, { key, item }, body])
    }
    throw new PipelineError(`${where}: 'foreach' must be a list or a mapping (or a \${} naming one)`)
  }
  if ('matrix' in def) {
    const matrix = interpolate(def.matrix, ctx, where, budget)
    if (!isComposite(matrix) || Array.isArray(matrix)) throw new PipelineError(`${where}: 'matrix' must map names to lists`)
    const body = Object.fromEntries(Object.entries(def).filter(([k]) => k !== 'matrix'))
    budget.add(where, matrixCount(matrix as Record<string, unknown>, where), bodyBytes(body))
    let combos: Array<{ item: Record<string, unknown>, parts: string[] }> = [{ item: {}, parts: [] }]
    for (const [key, values] of Object.entries(matrix as Record<string, unknown[]>)) {
      combos = combos.flatMap((c) => values.map((v, i) => ({
        item: { ...c.item, [key]: v },
        // DVC: primitive values name themselves; lists and mappings use the variable name and index
        parts: [...c.parts, isComposite(v) ? `${key}${i}` : toStr(v)]
      })))
    }
    // names join the values: a long one in every combination is charged before any name is built
    for (const c of combos) budget.addInterpolated(where, c.parts.reduce((n, p) => n + p.length + 1, name.length), 'a matrix stage name')
    return combos.map((c) => [c.parts.join('-'), { item: c.item }, body])
  }
  budget.add(where, 1, bodyBytes(def))
  return [[undefined, {}, def]]
}

function stringList (value: unknown, what: string, where: string): string[] {
  if (value == null) return []
  if (!Array.isArray(value)) throw new PipelineError(`${where}: '${what}' must be a list`)
  return value.map((v) => {
    if (typeof v !== 'string' || v === '') throw new PipelineError(`${where}: each of '${what}' must be a path`)
    return v
  })
}

function outList (value: unknown, kind: StageOut['kind'], where: string): StageOut[] {
  if (value == null) return []
  if (!Array.isArray(value)) throw new PipelineError(`${where}: '${kind === 'out' ? 'outs' : kind + 's'}' must be a list`)
  return value.map((v) => {
    if (typeof v === 'string') return { path: v, cache: true, persist: false, kind }
    if (v != null && typeof v === 'object' && !Array.isArray(v) && Object.keys(v).length === 1) {
      const [path, opts] = Object.entries(v as Record<string, unknown>)[0]
      const o = (opts ?? {}) as Record<string, unknown>
      for (const k of Object.keys(o)) if (!OUT_KEYS.includes(k)) throw new PipelineError(`${where}: out '${path}': unknown key '${k}'`)
      return { path, cache: o.cache !== false, persist: o.persist === true, kind, ...(kind === 'plot' ? { plot: o } : {}) }
    }
    throw new PipelineError(`${where}: each out must be a path or a mapping of one path to its options`)
  })
}

function paramList (value: unknown, where: string): ParamRef[] {
  if (value == null) return []
  if (!Array.isArray(value)) throw new PipelineError(`${where}: 'params' must be a list`)
  const out: ParamRef[] = []
  for (const v of value) {
    if (typeof v === 'string') {
      // a bare file name (with an extension) means the whole file, as in DVC
      if (/\.(ya?ml|json|toml|py)$/.test(v)) out.push({ file: v, keys: null })
      else out.push({ file: 'params.yaml', keys: [v] })
    } else if (v != null && typeof v === 'object' && !Array.isArray(v)) {
      for (const [file, keys] of Object.entries(v as Record<string, unknown>)) {
        out.push({ file, keys: keys == null ? null : stringList(keys, `params of ${file}`, where) })
      }
    } else {
      throw new PipelineError(`${where}: each param must be a key or a mapping of a file to keys`)
    }
  }
  // one entry per file, keys merged
  const byFile = new Map<string, ParamRef>()
  for (const p of out) {
    const prev = byFile.get(p.file)
    if (prev == null) byFile.set(p.file, { ...p })
    else prev.keys = prev.keys == null || p.keys == null ? null : [...new Set([...prev.keys, ...p.keys])]
  }
  return [...byFile.values()]
}

/**
 * mlp's own stage settings: `resources`/`run_on` in the stage, or under
 * `meta: {mlp: ...}`, which DVC ignores, so a dvc.yaml that DVC also reads
 * stays valid for it. Both at once is refused: which one wins would be a guess.
 */
function mlpSettings (body: Record<string, unknown>, where: string): Record<string, unknown> {
  const meta = body.meta
  const fromMeta = meta != null && typeof meta === 'object' && !Array.isArray(meta) ? (meta as Record<string, unknown>).mlp : undefined
  if (fromMeta == null) return body
  if (typeof fromMeta !== 'object' || Array.isArray(fromMeta)) throw new PipelineError(`${where}: 'meta.mlp' must be a mapping (resources, run_on)`)
  const m = fromMeta as Record<string, unknown>
  for (const k of Object.keys(m)) if (k !== 'resources' && k !== 'run_on' && k !== 'metrics') throw new PipelineError(`${where}: meta.mlp: unknown key '${k}' (known: resources, run_on, metrics)`)
  for (const k of ['resources', 'run_on']) if (m[k] != null && body[k] != null) throw new PipelineError(`${where}: '${k}' is set both in the stage and in meta.mlp; keep one`)
  // `metrics` here says which way each metric is better (metric-direction.ts), not which files are metrics
  return { ...body, ...Object.fromEntries(Object.entries(m).filter(([k, v]) => v != null && k !== 'metrics')) }
}

function buildStage (name: string, rawBody: Record<string, unknown>, ctx: Context, line: number, file: string, budget: ExpansionBudget, parsing: ParsingConfig, prefix: string): Stage {
  const where = `${file}:${line}: stage '${name}'`
  const typed = interpolate(rawBody, ctx, where, budget, { parsing }) as Record<string, unknown>
  // a stage holds plain numbers; only a cmd list item that is a float keeps Python's form (`1.0`)
  const body = mlpSettings(plainValue(typed) as Record<string, unknown>, where)
  const cmd = typeof body.cmd === 'string' ? [body.cmd] : Array.isArray(typed.cmd) ? typed.cmd.map(String) : undefined
  if (cmd == null || cmd.length === 0 || cmd.some((c) => c.trim() === '')) throw new PipelineError(`${where}: 'cmd' is required (a command or a list of commands)`)
  const wdir = stageWdir(typeof body.wdir === 'string' ? body.wdir : '.', prefix, where)
  let resources: Resources | undefined
  if (body.resources != null) {
    const r = body.resources as Record<string, unknown>
    if (typeof r !== 'object' || Array.isArray(r)) throw new PipelineError(`${where}: 'resources' must be a mapping`)
    for (const k of Object.keys(r)) if (!['gpu', 'gpu_memory_mib', 'gpu_model', 'cpus', 'memory_mib', 'time'].includes(k)) throw new PipelineError(`${where}: resources: unknown key '${k}' (known: gpu, gpu_memory_mib, gpu_model, cpus, memory_mib, time)`)
    const gpu = r.gpu ?? 0
    if (!Number.isInteger(gpu) || (gpu as number) < 0) throw new PipelineError(`${where}: resources.gpu must be a whole number`)
    if (r.gpu_memory_mib != null && (!Number.isInteger(r.gpu_memory_mib) || (r.gpu_memory_mib as number) <= 0)) throw new PipelineError(`${where}: resources.gpu_memory_mib must be a positive whole number`)
    if (r.gpu_model != null && typeof r.gpu_model !== 'string') throw new PipelineError(`${where}: resources.gpu_model must be a string`)
    if (r.cpus != null && (!Number.isInteger(r.cpus) || (r.cpus as number) <= 0)) throw new PipelineError(`${where}: resources.cpus must be a positive whole number`)
    if (r.memory_mib != null && (!Number.isInteger(r.memory_mib) || (r.memory_mib as number) <= 0)) throw new PipelineError(`${where}: resources.memory_mib must be a positive whole number`)
    const time = r.time == null ? undefined : slurmTime(r.time)
    if (r.time != null && time == null) throw new PipelineError(`${where}: resources.time must be minutes or Slurm's [days-]hours:minutes:seconds, such as 90 or "04:00:00"`)
    resources = { gpu: gpu as number, gpuMemoryMib: r.gpu_memory_mib as number | undefined, gpuModel: r.gpu_model as string | undefined, ...(r.cpus != null ? { cpus: r.cpus as number } : {}), ...(r.memory_mib != null ? { memoryMib: r.memory_mib as number } : {}), ...(time != null ? { time } : {}) }
  }
  if (body.run_on != null && typeof body.run_on !== 'string') throw new PipelineError(`${where}: 'run_on' must be a peer id`)
  const outs = [...outList(body.outs, 'out', where), ...outList(body.metrics, 'metric', where), ...outList(body.plots, 'plot', where)]
  for (const p of [...stringList(body.deps, 'deps', where), ...outs.map((o) => o.path)]) {
    if (p.startsWith('/') || normalize(join(wdir, p)).split('/')[0] === '..') throw new PipelineError(`${where}: path '${p}' must stay inside the project`)
  }
  const params = paramList(body.params, where)
  for (const p of params) {
    if (p.file.startsWith('/') || normalize(join(wdir, p.file)).split('/')[0] === '..') throw new PipelineError(`${where}: params file '${p.file}' must stay inside the project`)
  }
  return {
    name,
    cmd,
    wdir,
    deps: stringList(body.deps, 'deps', where),
    outs,
    params,
    frozen: body.frozen === true,
    alwaysChanged: body.always_changed === true,
    resources,
    runOn: body.run_on as string | undefined,
    metricsBetter: metricDirections(body.meta, where),
    line
  }
}

/**
 * A stage's `wdir` relative to the project root. In a subfolder's file it
 * is relative to that folder (DVC's default is the folder itself) and may
 * climb above it with `..`, but never out of the project.
 */
function stageWdir (own: string, prefix: string, where: string): string {
  if (prefix === '') {
    if (own.startsWith('/') || own.split('/').includes('..')) throw new PipelineError(`${where}: 'wdir' must stay inside the project`)
    return own
  }
  const wdir = normalize(join(prefix, own)).replace(/\/$/, '')
  if (own.startsWith('/') || wdir.split('/')[0] === '..') throw new PipelineError(`${where}: 'wdir' must stay inside the project`)
  return wdir
}
