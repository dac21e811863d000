import { lstatSync, readFileSync } from 'node:fs'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { isMap, parse, parseDocument, type Document } from 'yaml'
import { ExpError } from '@mlp/proto'
import { hasHiddenChar, quoteName, relativePathProblem } from '../store/path-rules.js'
import { valueShowable } from './record.js'

/** One `-S [file:]key=value`, parsed. */
export interface ParamSet {
  file: string
  key: string[]
  value: unknown
}

/** Files `-S` may change: the YAML params files DVC reads and writes this way. */
const PARAMS_FILE = /\.ya?ml$/

/**
 * Parses `-S [file:]key=value` as `dvc exp run --set-param` does: the file
 * defaults to params.yaml, the key is dotted, the value is read as YAML
 * (`0.2` a number, `true` a boolean, `[1, 2]` a list).
 */
export function parseParamSet (text: string): ParamSet {
  const eq = text.indexOf('=')
  // a record carrying one is refused by every teammate (exp/record.ts): refused here, before anything is written
  if (hasHiddenChar(eq > 0 ? text.slice(0, eq) : text)) throw new ExpError(`-S ${quoteName(text)}: the file or key has a control or invisible character: type it without one`)
  if (eq <= 0) throw new ExpError(`-S '${text}': expected [file:]key=value, e.g. -S train.lr=0.2 or -S params.yaml:train.lr=0.2`)
  const left = text.slice(0, eq)
  const colon = left.lastIndexOf(':')
  const file = colon >= 0 ? left.slice(0, colon) : 'params.yaml'
  const key = (colon >= 0 ? left.slice(colon + 1) : left).split('.')
  if (key.some((k) => k === '')) throw new ExpError(`-S '${text}': the key '${key.join('.')}' has an empty part`)
  const problem = relativePathProblem(file)
  if (problem != null || !PARAMS_FILE.test(file)) throw new ExpError(`-S '${text}': '${file}' must be a YAML params file inside the project${problem != null ? ` (${problem})` : ''}`)
  if (hasHiddenChar(text.slice(eq + 1).replace(/[\t\n\r]/g, ''))) throw new ExpError(`-S ${quoteName(text)}: the value has a control or invisible character (tabs and line breaks are fine): type it without one`)
  let value: unknown
  try {
    value = parse(text.slice(eq + 1))
  } catch (err) {
    throw new ExpError(`-S ${quoteName(text)}: the value is not valid YAML`, { cause: err })
  }
  if (!valueShowable(value)) throw new ExpError(`-S ${quoteName(text)}: the value has a control or invisible character (tabs and line breaks are fine): type it without one`)
  return { file, key, value: value ?? null }
}

/**
 * Writes the values into their files, changing only the keys named: the
 * yaml library's document keeps comments, order and quoting of the rest.
 * Every file is read and changed in memory first, so one bad `-S` changes
 * nothing. A params file must be a regular file (not a symlink) in the project.
 */
export async function applyParamSets (root: string, sets: ParamSet[]): Promise<void> {
  const docs = new Map<string, Document>()
  for (const s of sets) {
    let doc = docs.get(s.file)
    if (doc == null) {
      const abs = join(root, s.file)
      let text: string
      try {
        const st = lstatSync(abs)
        if (!st.isFile()) throw new ExpError(`-S: ${s.file} is not a regular file`)
        text = readFileSync(abs, 'utf8')
      } catch (err) {
        if ((err as Error).name === 'ExpError') throw err
        throw new ExpError(`-S: ${s.file} does not exist in the project: create it (and commit it) first`, { cause: err })
      }
      doc = parseDocument(text)
      if (doc.errors.length > 0) throw new ExpError(`-S: ${s.file} is not valid YAML: ${doc.errors[0].message.split('\n')[0]}`)
      if (!isMap(doc.contents) && doc.contents != null) throw new ExpError(`-S: ${s.file} is not a YAML mapping`)
      docs.set(s.file, doc)
    }
    doc.setIn(s.key, s.value)
  }
  for (const [file, doc] of docs) await writeFile(join(root, file), doc.toString())
}
