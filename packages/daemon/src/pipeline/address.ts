import { join, relative, resolve, sep } from 'node:path'

/** A pipeline file's name at the end of a target's file part: `dvc.yaml`, `train/mlp.yaml`. */
const FILE_PART = /(^|\/)(dvc|mlp)\.yaml$/

/** Whether `target` names a pipeline file (`dvc.yaml`, `train/dvc.yaml:fit`) rather than a bare stage name. */
export function namesFile (target: string): boolean {
  const colon = target.lastIndexOf(':')
  return FILE_PART.test(colon < 0 ? target : target.slice(0, colon))
}

/** `cwd` relative to the project `root`, `/`-separated: '' at the root. */
export function cwdFolder (root: string, cwd: string): string {
  return relative(root, resolve(cwd)).split(sep).join('/')
}

/**
 * A target as the user typed it in `cwd`, with its pipeline file part made
 * relative to the project root, as DVC reads `dvc.yaml:stage` from a
 * subfolder (that folder's file). A plain stage name is left as it is.
 */
export function targetFromCwd (root: string, cwd: string, target: string): string {
  if (!namesFile(target)) return target
  const colon = target.lastIndexOf(':')
  const filePart = colon < 0 ? target : target.slice(0, colon)
  const rel = cwdFolder(root, resolve(cwd, filePart))
  // outside the project: left for the stage lookup to refuse by its name
  if (rel.startsWith('..')) return target
  return colon < 0 ? rel : `${rel}:${target.slice(colon + 1)}`
}

/** What a bare stage name typed in a folder names. */
export interface BareStage {
  /** The stage's address (as `stagesOf` reads it) in the folder's own pipeline file; undefined when that file has no such stage. */
  address?: string
  /** Addresses, typeable from the folder, of stages of that name in other files. */
  elsewhere: string[]
  /** The folder's pipeline file, relative to the project root, when it has one. */
  file?: string
}

/**
 * Resolves a bare stage name typed in `cwd` as DVC does: it names a stage
 * of the pipeline file of that very folder (`fit` in `train/` is
 * `train/dvc.yaml:fit`, `fit` at the root the root file's), never one of a
 * parent or child folder's. `names` are the project's stage addresses
 * (`foreach` items included), `files` its pipeline files relative to the root.
 */
export function bareStage (root: string, cwd: string, name: string, names: string[], files: string[]): BareStage {
  const folder = cwdFolder(root, cwd)
  const file = files.find((f) => folder === '' ? !f.includes('/') : f.startsWith(`${folder}/`) && !f.slice(folder.length + 1).includes('/'))
  const matches = (address: string): boolean => names.some((n) => n === address || n.startsWith(`${address}@`))
  // the root file's stages carry no file in their address
  const own = file == null ? undefined : file.includes('/') ? `${file}:${name}` : name
  if (own != null && matches(own)) return { address: own, elsewhere: [], file }
  const rootFile = files.find((f) => !f.includes('/'))
  const elsewhere = new Set<string>()
  for (const n of names) {
    const colon = n.lastIndexOf(':')
    const local = n.slice(colon + 1)
    if (local !== name && !local.startsWith(`${name}@`)) continue
    const owner = colon < 0 ? rootFile : n.slice(0, colon)
    if (owner == null || owner === file) continue
    // typed from `cwd`, a file part is relative to it
    elsewhere.add(`${relative(resolve(cwd), join(root, owner)).split(sep).join('/')}:${name}`)
  }
  return { elsewhere: [...elsewhere], file }
}

/** The one-line reason a bare stage name names no stage where it was typed. */
export function noStageHere (name: string, found: BareStage): string {
  const where = found.file == null ? `no stage '${name}' here: this folder has no dvc.yaml or mlp.yaml` : `no stage '${name}' in ${found.file.slice(found.file.lastIndexOf('/') + 1)} here`
  return `${where}; ${didYouMean(found.elsewhere) ?? 'see `mlp dag` for the stages'}`
}

/** `did you mean a or b?`, or undefined for no candidates. */
export function didYouMean (addresses: string[]): string | undefined {
  if (addresses.length === 0) return undefined
  return `did you mean ${addresses.length === 1 ? addresses[0] : `${addresses.slice(0, -1).join(', ')} or ${addresses[addresses.length - 1]}`}?`
}
