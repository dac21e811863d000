#!/usr/bin/env node
// Builds the native addon (mlp_native.c) with the node-gyp that npm ships,
// against the running Node's own headers: `npm ci` and `npm run build` call
// this. It is rebuilt only when its sources are newer than the last build.
// A machine without a C compiler still gets a working mlp (every native
// path has a JavaScript one); this prints why and exits 0, and the unit
// test test/native.test.ts then fails, so CI cannot miss it.
import { execFileSync } from 'node:child_process'
import { existsSync, statSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const here = dirname(fileURLToPath(import.meta.url))
const output = join(here, 'build', 'Release', 'mlp_native.node')
const sources = ['mlp_native.c', 'binding.gyp'].map((f) => join(here, f))

const fresh = existsSync(output) && sources.every((s) => statSync(s).mtimeMs <= statSync(output).mtimeMs)
if (!fresh) {
  // npm puts the path of its node-gyp in the environment of the scripts it runs
  const prefix = dirname(dirname(process.execPath))
  const gyp = process.env.npm_config_node_gyp ?? join(prefix, 'lib', 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js')
  // the headers of the Node that runs mlp; node-gyp would download them otherwise, and lab LANs are often offline
  const nodedir = process.env.npm_config_nodedir ?? (existsSync(join(prefix, 'include', 'node', 'node_api.h')) ? prefix : undefined)
  const args = [gyp, 'rebuild', ...(nodedir != null ? [`--nodedir=${nodedir}`] : [])]
  try {
    execFileSync(process.execPath, args, { cwd: here, stdio: ['ignore', 'ignore', 'pipe'] })
    console.log(`built ${output}`)
  } catch (err) {
    const why = (err.stderr?.toString() ?? err.message).split('\n').filter((l) => /ERR!|error/i.test(l)).slice(0, 5).join('\n')
    console.warn(`mlp: the native addon did not build; mlp works without it, slower (Noise and chunking in JavaScript):\n${why}`)
  }
}
