#!/usr/bin/env node
// The polyfill must load before anything that pulls in libp2p.
import '@mlp/proto/polyfill'

// `mlp --version` and `mlp -V` (as DVC, where `-v` means verbose) are `mlp
// version`, which also asks the daemon: oclif's own flag knows only the CLI
const args = process.argv.slice(2)
if (args[0] === '--version' || args[0] === '-V') args[0] = 'version'
// a plain `mlp status` is answered without loading oclif (dist/fast-status.js)
const fast = args[0] === 'status' && await (await import('../dist/fast-status.js')).fastStatus(args.slice(1))
if (!fast) await (await import('@oclif/core')).execute({ dir: import.meta.url, args })
