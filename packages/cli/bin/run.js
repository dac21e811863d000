#!/usr/bin/env node
// The polyfill must load before anything that pulls in libp2p.
import '@mlp/proto/polyfill'
import { execute } from '@oclif/core'

await execute({ dir: import.meta.url })
