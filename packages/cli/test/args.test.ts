import { execFileSync } from 'node:child_process'
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { Args, Flags, Parser } from '@oclif/core'
import { describe, expect, it } from 'vitest'
import { oneLineMessage } from '../src/one-line.js'
import { shellLine } from '../src/shell-line.js'

const input = {
  flags: { jobs: Flags.integer({ char: 'j', min: 1 }), out: Flags.string({ char: 'o' }) },
  args: { targets: Args.string({ description: 'content ids', required: true, multiple: true }) }
}

async function parseError (argv: string[]): Promise<Error> {
  try {
    await Parser.parse(argv, input)
  } catch (err) {
    return err as Error
  }
  throw new Error(`${argv.join(' ')} parsed`)
}

describe('a variadic arg, as oclif parses it', () => {
  it('takes the targets wherever the flags are, never a flag value, and anything after --', async () => {
    for (const argv of [['-o', 'out', 'a', 'b'], ['a', '-o', 'out', 'b'], ['a', 'b', '-o', 'out'], ['--out=out', 'a', 'b']]) {
      const r = await Parser.parse(argv, input)
      expect(r.args.targets, argv.join(' ')).toEqual(['a', 'b'])
      expect(r.flags.out).toBe('out')
    }
    // after --, words that look like flags (even one of ours) are targets, in order
    const dashed = await Parser.parse(['-j', '2', 'a', '--', '-x.bin', '-j'], input)
    expect(dashed.args.targets).toEqual(['a', '-x.bin', '-j'])
    expect(dashed.flags.jobs).toBe(2)
  })
})

describe('one-line usage errors', () => {
  it('joins a header line to what it introduces', async () => {
    expect(oneLineMessage(await parseError(['a', '-j', '0']))).toBe('Parsing --jobs: Expected an integer greater than or equal to 1 but received: 0')
    expect(oneLineMessage(await parseError(['-j', '2']))).toBe('missing argument: targets (content ids)')
  })

  it('keeps a message that is one line already', async () => {
    expect(oneLineMessage(await parseError(['a', '--bogus']))).toBe('Nonexistent flag: --bogus')
    expect(oneLineMessage(new Error('no mlp daemon is running\nmore detail'))).toBe('no mlp daemon is running')
    expect(oneLineMessage(new Error(''))).toBeUndefined()
  })
})

describe('a stage command typed as words', () => {
  it('keeps each word, flags included, when a shell reads it back', () => {
    const words = ['python', 'train.py', '--lr', '0.1', '-m', 'two words', "it's", '$HOME', '']
    const line = shellLine(words)
    expect(line).toBe("python train.py --lr 0.1 -m 'two words' 'it'\"'\"'s' '$HOME' ''")
    // the shell gives the words back as typed
    const echoed = execFileSync('/bin/sh', ['-c', `printf '%s\\n' ${line.replace(/^python /, '')}`]).toString()
    expect(echoed).toBe(words.slice(1).join('\n') + '\n')
  })

  it('keeps a single word as the shell line it is', () => {
    expect(shellLine(['python train.py | tee log'])).toBe('python train.py | tee log')
  })
})

describe('the commands', () => {
  it('take their args from oclif\'s parse, never by filtering this.argv', () => {
    const dir = fileURLToPath(new URL('../src/commands', import.meta.url))
    const files = readdirSync(dir, { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.ts'))
    // control: the walk finds the commands that take lists of targets
    expect(files).toEqual(expect.arrayContaining(['add.ts', 'fetch.ts', join('stage', 'add.ts')]))
    for (const f of files) expect(readFileSync(join(dir, f), 'utf8'), f).not.toMatch(/this\.argv/)
  })
})
