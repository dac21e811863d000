import { execFileSync } from 'node:child_process'
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { ownsGitDir } from '../src/tracking/project.js'

describe('ownsGitDir (a project root told without spawning git)', () => {
  const dirs: string[] = []
  afterEach(() => { for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true }) })
  const temp = (): string => {
    const d = mkdtempSync(join(tmpdir(), 'mlp-gitdir-'))
    dirs.push(d)
    return d
  }
  const env = {}

  it('agrees with git rev-parse --show-toplevel for a repository and its subfolders', () => {
    const dir = temp()
    execFileSync('git', ['init', '-q'], { cwd: dir })
    mkdirSync(join(dir, 'sub'))
    expect(ownsGitDir(dir, env)).toBe(true)
    expect(ownsGitDir(join(dir, 'sub'), env)).toBe(false)
  })

  it('takes a worktree or submodule gitdir file; not a folder without HEAD or another file', () => {
    const dir = temp()
    writeFileSync(join(dir, '.git'), 'gitdir: /somewhere/.git/worktrees/x\n')
    expect(ownsGitDir(dir, env)).toBe(true)
    writeFileSync(join(dir, '.git'), 'not a gitdir file\n')
    expect(ownsGitDir(dir, env)).toBe(false)
    const empty = temp()
    mkdirSync(join(empty, '.git'))
    expect(ownsGitDir(empty, env)).toBe(false)
    expect(ownsGitDir(temp(), env)).toBe(false)
  })

  it('asks git whenever GIT_DIR or GIT_WORK_TREE point it elsewhere', () => {
    const dir = temp()
    execFileSync('git', ['init', '-q'], { cwd: dir })
    expect(ownsGitDir(dir, { GIT_DIR: '/elsewhere' })).toBe(false)
    expect(ownsGitDir(dir, { GIT_WORK_TREE: '/elsewhere' })).toBe(false)
  })
})
