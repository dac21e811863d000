import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'

// The README's command reference must match the CLI: every command in its
// table exists, with every flag shown. The oclif manifest is what the CLI
// itself loads, generated from the command classes by `npm run build`.
interface Manifest { commands: Record<string, { flags: Record<string, { char?: string, allowNo?: boolean }> }> }
const manifest = JSON.parse(readFileSync(new URL('../packages/cli/oclif.manifest.json', import.meta.url), 'utf8')) as Manifest
const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8')

/** Each usage in the README's command table, split on its alternatives (`a|b`, ` / `). */
function usages (): string[] {
  const rows = readme.split('\n').filter((l) => /^\| `mlp /.test(l))
  return rows.flatMap((row) => {
    const cell = row.split(' | ')[0].replace(/^\| /, '')
    return [...cell.matchAll(/`(mlp [^`]+)`/g)].map((m) => m[1].replace(/\\\|/g, '|'))
  })
}

function commandOf (usage: string): { id: string, flags: string[] } {
  const words = usage.split(' ').slice(1)
  const idWords: string[] = []
  for (const w of words) {
    if (!/^[a-z][a-z-]*(\|[a-z-]+)*$/.test(w)) break
    idWords.push(w)
  }
  // `trust add|rm|ls` names three commands; take the first and check the rest below
  const id = idWords.map((w) => w.split('|')[0]).join(':')
  const flags = [...usage.matchAll(/(?:^|[\s[(|])(--?[a-z][a-z-]*)/g)].map((m) => m[1])
  return { id, flags }
}

describe('README command reference', () => {
  const all = usages()

  it('lists the commands', () => {
    expect(all.length).toBeGreaterThan(25)
  })

  it('every command exists with the flags shown', () => {
    for (const usage of all) {
      const { id, flags } = commandOf(usage)
      const cmd = manifest.commands[id]
      expect(cmd, `README shows \`${usage}\` but the CLI has no '${id.replaceAll(':', ' ')}'`).toBeDefined()
      for (const f of flags) {
        const name = f.replace(/^--?/, '')
        const known = Object.entries(cmd.flags).some(([n, d]) => n === name || d.char === name || (d.allowNo === true && name === `no-${n}`))
        expect(known, `README shows ${f} for 'mlp ${id.replaceAll(':', ' ')}', which has no such flag`).toBe(true)
      }
    }
  })

  it('alternatives written as a|b exist too', () => {
    for (const usage of all) {
      const alt = /^mlp ([a-z]+) ([a-z]+(?:\|[a-z]+)+)/.exec(usage)
      if (alt == null) continue
      for (const sub of alt[2].split('|')) expect(manifest.commands[`${alt[1]}:${sub}`], `mlp ${alt[1]} ${sub}`).toBeDefined()
    }
  })

  it('every CLI command is in the README', () => {
    const shown = new Set(all.flatMap((u) => {
      const alt = /^mlp ([a-z]+) ([a-z]+(?:\|[a-z]+)+)/.exec(u)
      return alt == null ? [commandOf(u).id] : alt[2].split('|').map((s) => `${alt[1]}:${s}`)
    }))
    for (const id of Object.keys(manifest.commands)) expect(shown.has(id), `'mlp ${id.replaceAll(':', ' ')}' is missing from the README`).toBe(true)
  })
})
