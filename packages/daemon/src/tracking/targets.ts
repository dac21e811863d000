import { existsSync } from 'node:fs'
import { join, relative } from 'node:path'
import { CID } from 'multiformats/cid'
import { PathError } from '@mlp/proto'
import { bareStage, didYouMean, namesFile, targetFromCwd } from '../pipeline/address.js'
import { PIPELINE_NAMES } from '../pipeline/collect.js'
import { pointerDir } from './add.js'
import { findPointers } from './discover.js'
import { POINTER_SUFFIX, readPointer } from './pointers.js'
import { projectPath } from './project.js'

/**
 * A tracked output: an out of a pointer file or of a stage in the lock file.
 * status, checkout, pull and push treat both alike.
 */
export interface TrackedOut {
  /** Absolute path in the workspace. */
  abs: string
  cid: CID
  /** The file that records it: a pointer file, or the lock file (absolute). */
  source: string
  /** For a stage out: the stage's name. */
  stage?: string
}

/** The outs of the given pointer files. */
export async function pointerOutputs (pointers: string[]): Promise<TrackedOut[]> {
  const out: TrackedOut[] = []
  for (const pointer of pointers) {
    for (const o of (await readPointer(pointer)).outs) out.push({ abs: join(pointerDir(pointer), o.path), cid: CID.parse(o.cid), source: pointer })
  }
  return out
}

/** Pointer files named by `targets` (a tracked path or its `.mlp` file), or all of the project's. */
export async function resolvePointers (root: string, cwd: string, targets: string[] | undefined, signal?: AbortSignal): Promise<string[]> {
  if (targets == null || targets.length === 0) return await findPointers(root, signal)
  return targets.map((t) => {
    const pointer = pointerFor(root, cwd, t)
    if (pointer == null) throw new PathError(`${t} is not tracked: there is no ${relative(cwd, pointerName(root, cwd, t))}`)
    return pointer
  })
}

function pointerName (root: string, cwd: string, target: string): string {
  const { abs } = projectPath(root, cwd, target)
  return abs.endsWith(POINTER_SUFFIX) ? abs : `${abs}${POINTER_SUFFIX}`
}

function pointerFor (root: string, cwd: string, target: string): string | undefined {
  const pointer = pointerName(root, cwd, target)
  return existsSync(pointer) ? pointer : undefined
}

/**
 * Tracked outputs named by `targets`, or all of them (every pointer file's
 * and every stage's in `stageOuts`, which the pipeline layer reads from the
 * lock file). A target is a tracked path, its `.mlp` file, a stage name, or
 * a stage out's path; tried in that order. Duplicates are dropped.
 */
export async function resolveOutputs (root: string, cwd: string, targets: string[] | undefined, stageOuts: TrackedOut[], signal?: AbortSignal): Promise<TrackedOut[]> {
  const out: TrackedOut[] = []
  if (targets == null || targets.length === 0) {
    out.push(...await pointerOutputs(await findPointers(root, signal)), ...stageOuts)
  } else {
    for (const t of targets) out.push(...await outputsOf(root, cwd, t, stageOuts))
  }
  const seen = new Set<string>()
  return out.filter((o) => {
    if (seen.has(o.abs)) return false
    seen.add(o.abs)
    return true
  })
}

/**
 * The stage outs a stage target typed in `cwd` names, as `mlp repro` reads
 * it: a file part relative to `cwd` (`dvc.yaml:fit`, `train/dvc.yaml` for
 * all its stages), a bare name a stage of the pipeline file of that very
 * folder (`fit` in `train/` is `train/dvc.yaml:fit`), a `foreach` group
 * name all its items. With none, `hint` names the addresses elsewhere that
 * have that bare name.
 */
export function stageOutsOf (root: string, cwd: string, target: string, stageOuts: TrackedOut[]): { outs: TrackedOut[], hint?: string } {
  const named = (address: string): TrackedOut[] => stageOuts.filter((o) => o.stage === address || o.stage?.startsWith(`${address}@`) === true)
  if (namesFile(target)) {
    const t = targetFromCwd(root, cwd, target)
    const colon = t.lastIndexOf(':')
    if (colon < 0) return { outs: stageOuts.filter((o) => o.stage != null && (t.includes('/') ? o.stage.startsWith(`${t}:`) : !o.stage.includes(':'))) }
    // `dvc.yaml:fit` is the root file's `fit`
    return { outs: named(t.includes('/') ? t : t.slice(colon + 1)) }
  }
  const names = [...new Set(stageOuts.flatMap((o) => o.stage ?? []))]
  // the root file by its name on disk (a root stage in the lock says there is one); the others by the addresses of their stages
  const rootFile = PIPELINE_NAMES.find((n) => existsSync(join(root, n))) ?? (names.some((n) => !n.includes(':')) ? PIPELINE_NAMES[0] : undefined)
  const files = [...(rootFile == null ? [] : [rootFile]), ...new Set(names.filter((n) => n.includes(':')).map((n) => n.slice(0, n.lastIndexOf(':'))))]
  const found = bareStage(root, cwd, target, names, files)
  if (found.address != null) return { outs: named(found.address) }
  return { outs: [], hint: didYouMean(found.elsewhere) }
}

async function outputsOf (root: string, cwd: string, target: string, stageOuts: TrackedOut[]): Promise<TrackedOut[]> {
  const { outs: byStage, hint } = stageOutsOf(root, cwd, target, stageOuts)
  let pointer: string | undefined
  try {
    pointer = pointerFor(root, cwd, target)
  } catch (err) {
    // a stage name need not be a path projectPath accepts
    if (byStage.length === 0) throw err
  }
  if (pointer != null) return await pointerOutputs([pointer])
  if (byStage.length > 0) return byStage
  const { abs } = projectPath(root, cwd, target)
  const byPath = stageOuts.filter((o) => o.abs === abs)
  if (byPath.length > 0) return byPath
  throw new PathError(`${target} is not tracked: there is no ${relative(cwd, pointerName(root, cwd, target))}, and no stage in the lock file has that name or out (\`mlp add\` or \`mlp repro\` first)${hint == null ? '' : `; ${hint}`}`)
}
