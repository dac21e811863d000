import '@mlp/proto/polyfill'
import { afterAll } from 'vitest'
import { removeTempDirs } from './helpers/cli.js'

// after the file's own afterAll hooks (which stop its daemons): hooks run as a stack
afterAll(async () => { await removeTempDirs() })
