import { describe, expect, it } from 'vitest'
import { closest, editDistance, unknownCommandMessage } from '../src/suggest.js'
import { formatVersions, versionWarning } from '../src/versions.js'

const commandIds = ['status', 'stage:add', 'daemon:start', 'daemon:stop', 'daemon:status', 'metrics:show', 'metrics:diff', 'params:diff', 'peers', 'peers:add', 'pull', 'push']

describe('command suggestions', () => {
  it('counts a swap of two adjacent letters as one edit', () => {
    expect(editDistance('stauts', 'status')).toBe(1)
    expect(editDistance('pul', 'pull')).toBe(1)
    expect(editDistance('abc', 'abc')).toBe(0)
  })

  it('suggests the closest command for a typo and nothing for an unrelated word', () => {
    expect(closest('stauts', ['status', 'stage', 'push'])).toBe('status')
    expect(closest('zzzzzz', ['status', 'stage', 'push'])).toBeUndefined()
  })

  it('names the user\'s words and the closest top-level command', () => {
    expect(unknownCommandMessage(['stauts'], { commandIds })).toBe('`mlp stauts` is not an mlp command: did you mean `mlp status`? (see mlp help)')
  })

  it('suggests within a topic', () => {
    expect(unknownCommandMessage(['daemon', 'strat'], { commandIds })).toBe('`mlp daemon strat` is not an mlp command: did you mean `mlp daemon start`? (see mlp help)')
  })

  it('lists the topic\'s commands when no subcommand is close, with the words as typed', () => {
    expect(unknownCommandMessage(['stage', 'rm', 'bad'], { commandIds })).toBe('`mlp stage rm bad` is not an mlp command: `mlp stage` has add (see mlp stage --help)')
  })

  it('says only that the command is unknown when nothing is close', () => {
    expect(unknownCommandMessage(['frobnicate'], { commandIds })).toBe('`mlp frobnicate` is not an mlp command (see mlp help)')
  })
})

describe('mlp version', () => {
  it('warns when the daemon runs another version, naming the fix', () => {
    expect(versionWarning('0.2.0', '0.1.0')).toBe('the daemon runs mlp 0.1.0 but this CLI is 0.2.0: restart it with `mlp daemon stop` then `mlp daemon start`')
  })

  it('does not warn when they agree or no daemon runs', () => {
    expect(versionWarning('0.1.0', '0.1.0')).toBeUndefined()
    expect(versionWarning('0.1.0', null)).toBeUndefined()
  })

  it('says how to start a daemon that is not running', () => {
    const text = formatVersions({ cli: '0.1.0', daemon: null, daemonPid: null, node: 'v20.0.0', platform: 'linux-x64' })
    expect(text).toContain('mlp CLI     0.1.0')
    expect(text).toContain('not running (start it with `mlp daemon start`)')
  })
})
