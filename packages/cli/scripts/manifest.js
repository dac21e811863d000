// Writes oclif.manifest.json: with it, oclif loads only the command being
// run instead of importing every command (and the daemon's dependencies) at
// each start. Run after `tsc -b`, by `npm run build` and `prepare`.
import { rmSync, writeFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { Config } from '@oclif/core'

const root = fileURLToPath(new URL('..', import.meta.url))
const file = new URL('../oclif.manifest.json', import.meta.url)
rmSync(file, { force: true })
const config = await Config.load({ root, ignoreManifest: true })
const plugin = config.getPluginsList().find((p) => p.root === config.root) ?? config.getPluginsList()[0]
const manifest = plugin.manifest
if (Object.keys(manifest.commands).length === 0) throw new Error('no commands found: build the CLI first (tsc -b)')
writeFileSync(file, JSON.stringify(manifest, null, 2) + '\n')
console.log(`oclif.manifest.json: ${Object.keys(manifest.commands).length} commands`)
