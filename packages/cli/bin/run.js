#!/usr/bin/env node
// The polyfill must load before anything that pulls in libp2p.
import '@mlp/proto/polyfill'
import { execute } from '@oclif/core'

// `mlp --version` and `mlp -V` (as DVC, where `-v` means verbose) are `mlp
// version`, which also asks the daemon: oclif's own flag knows only the CLI
const args = process.argv.slice(2)
if (args[0] === '--version' || args[0] === '-V') args[0] = 'version'
await execute({ dir: import.meta.url, args })
