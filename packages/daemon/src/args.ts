import { parseArgs } from 'node:util'
import type { ConfigOverrides } from './config.js'

/** Turns daemon flags into config overrides; the same flags as `mlp daemon start`. */
export function parseDaemonArgs (argv: string[]): ConfigOverrides {
  const { values } = parseArgs({
    args: argv,
    options: {
      listen: { type: 'string', multiple: true },
      bootstrap: { type: 'string', multiple: true },
      mdns: { type: 'boolean' },
      'no-mdns': { type: 'boolean' }
    },
    strict: true
  })
  return {
    listen: values.listen,
    bootstrap: values.bootstrap,
    mdns: values['no-mdns'] === true ? false : values.mdns
  }
}

/** The inverse of {@link parseDaemonArgs}, used to start a background daemon. */
export function daemonArgs (overrides: ConfigOverrides): string[] {
  const args: string[] = []
  for (const a of overrides.listen ?? []) args.push('--listen', a)
  for (const a of overrides.bootstrap ?? []) args.push('--bootstrap', a)
  if (overrides.mdns === false) args.push('--no-mdns')
  if (overrides.mdns === true) args.push('--mdns')
  return args
}
