import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { PipelineError } from './errors.js'
import { readPipelineText } from './file-size.js'
import { DEFAULT_PARSING, type ParsingConfig } from './render.js'

/**
 * The `[parsing]` section of a DVC project's `.dvc/config` (an INI file):
 * how a mapping interpolated into `cmd` becomes arguments. Absent file or
 * section: DVC's defaults. A value DVC would not accept is refused, naming
 * the line, rather than rendering commands differently from DVC.
 */
export function readParsingConfig (root: string): ParsingConfig {
  const file = join(root, '.dvc', 'config')
  if (!existsSync(file)) return DEFAULT_PARSING
  const config: ParsingConfig = { ...DEFAULT_PARSING }
  let section = ''
  const lines = readPipelineText(file, root).split(/\r?\n/)
  for (const [i, raw] of lines.entries()) {
    const line = raw.trim()
    if (line === '' || line.startsWith('#') || line.startsWith(';')) continue
    const header = /^\[\s*([^\]]+?)\s*\]$/.exec(line)
    if (header != null) {
      section = header[1].replace(/^'|'$/g, '')
      continue
    }
    if (section !== 'parsing') continue
    const kv = /^([\w.-]+)\s*=\s*(.*)$/.exec(line)
    if (kv == null) continue
    const [, key, value] = kv
    if (key === 'bool') {
      if (value !== 'store_true' && value !== 'boolean_optional') throw new PipelineError(`.dvc/config:${i + 1}: parsing.bool must be store_true or boolean_optional`)
      config.bool = value
    } else if (key === 'list') {
      if (value !== 'nargs' && value !== 'append') throw new PipelineError(`.dvc/config:${i + 1}: parsing.list must be nargs or append`)
      config.list = value
    }
  }
  return config
}
