import { execFileSync } from 'node:child_process'
import { existsSync, mkdirSync, readdirSync, symlinkSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { mlp, mlpJson, tempDir } from './helpers/cli.js'
import { DaemonPool, type TestDaemon } from './helpers/daemons.js'
import { newProject } from './helpers/project.js'

// `mlp plots` reads data a teammate committed: every hostile project here is
// refused with one line, leaves the daemon serving, and writes nothing; the
// same project made harmless draws (the control).

const pool = new DaemonPool()
let a: TestDaemon
beforeAll(async () => { a = await pool.start() })
afterAll(async () => { await pool.cleanup() })

/** Runs `mlp plots show ...` in `dir`: refused with one line holding `message`, and the daemon still answers. */
async function refused (dir: string, args: string[], message: string): Promise<void> {
  const r = await mlp(a.home, ['plots', 'show', ...args], { cwd: dir, timeoutMs: 60_000 })
  expect(r.code, r.stdout).not.toBe(0)
  expect(r.stderr).toContain(message)
  expect(r.stderr.trim().split('\n')).toHaveLength(1)
  const status = await mlpJson(a.home, ['daemon', 'status'])
  expect(status.pid).toBe(a.pid)
}

/** Runs `mlp plots show ...` in `dir`, expects it to draw, and answers its JSON. */
async function draws (dir: string, args: string[] = []): Promise<{ plots: Array<{ id: string }>, output: string }> {
  const r = await mlp(a.home, ['plots', 'show', ...args, '--json'], { cwd: dir, timeoutMs: 60_000 })
  expect(r.code, r.stderr).toBe(0)
  return JSON.parse(r.stdout)
}

describe('mlp plots on hostile projects', () => {
  it('many big data files (one blob to git) are refused past the page budget; fewer draw', async () => {
    const dir = await newProject(a.home)
    // one 16 MiB file of long rows (few points to draw), copied under five names
    const row = (i: number): string => `${i},${(1 / (i + 1)).toFixed(4)},${'n'.repeat(4000)}\n`
    const rows = ['step,loss,note\n']
    let size = rows[0].length
    for (let i = 0; size + row(i).length <= 16 * 1024 * 1024; i++) {
      rows.push(row(i))
      size += row(i).length
    }
    const text = rows.join('')
    const files = [0, 1, 2, 3, 4].map((i) => `big${i}.csv`)
    for (const f of files) writeFileSync(join(dir, f), text)
    writeFileSync(join(dir, 'mlp.yaml'), `plots:\n${files.map((f) => `  - ${f}:\n      x: step\n      y: loss\n`).join('')}`)
    execFileSync('git', ['-c', 'user.email=t@example.com', '-c', 'user.name=t', 'add', '-A'], { cwd: dir })
    execFileSync('git', ['-c', 'user.email=t@example.com', '-c', 'user.name=t', 'commit', '-qm', 'big'], { cwd: dir })
    await refused(dir, [], 'big4.csv at workspace: the plots read over 64 MiB of data files together: name fewer plots')
    expect(existsSync(join(dir, 'mlp_plots'))).toBe(false)
    // control: three of them (48 MiB) draw
    const ok = await draws(dir, files.slice(0, 3))
    expect(ok.plots.map((p) => p.id)).toEqual(files.slice(0, 3))
  })

  it('over 100 plots, or a confusion matrix of over 200 classes, is refused before drawing; within the caps they draw', async () => {
    const dir = await newProject(a.home)
    writeFileSync(join(dir, 'loss.csv'), 'step,loss\n0,1\n1,0.5\n')
    writeFileSync(join(dir, 'mlp.yaml'), `plots:\n${Array.from({ length: 101 }, (_, i) => `  - p${i}:\n      y:\n        loss.csv: loss\n`).join('')}`)
    await refused(dir, [], '101 plots: mlp draws at most 100 on one page')
    writeFileSync(join(dir, 'mlp.yaml'), `plots:\n${Array.from({ length: 2 }, (_, i) => `  - p${i}:\n      y:\n        loss.csv: loss\n`).join('')}`)
    expect((await draws(dir)).plots).toHaveLength(2)

    const classes = (n: number): string => `actual,predicted\n${Array.from({ length: n }, (_, i) => `c${i},c${(i + 1) % n}\n`).join('')}`
    writeFileSync(join(dir, 'preds.csv'), classes(201))
    writeFileSync(join(dir, 'mlp.yaml'), 'plots:\n  - preds.csv:\n      template: confusion\n      x: actual\n      y: predicted\n')
    await refused(dir, [], "plot 'preds.csv': 201 classes: mlp draws a confusion matrix of at most 200")
    writeFileSync(join(dir, 'preds.csv'), classes(5))
    expect((await draws(dir)).plots.map((p) => p.id)).toEqual(['preds.csv'])
  })

  it('a committed mlp_plots symlink is not followed for the default page; a real folder is written (control)', async () => {
    const dir = await newProject(a.home)
    const elsewhere = await tempDir('mlp-victim-')
    writeFileSync(join(dir, 'loss.csv'), 'step,loss\n0,1\n1,0.5\n')
    writeFileSync(join(dir, 'mlp.yaml'), 'plots:\n  - loss.csv:\n      x: step\n      y: loss\n')
    symlinkSync(elsewhere, join(dir, 'mlp_plots'))
    await refused(dir, [], 'mlp_plots is a symlink: mlp writes its default page only into a real folder')
    expect(readdirSync(elsewhere)).toEqual([])
    rmSync(join(dir, 'mlp_plots'))
    writeFileSync(join(dir, 'mlp_plots'), 'a file\n')
    await refused(dir, [], 'mlp_plots is not a folder')
    rmSync(join(dir, 'mlp_plots'))
    const ok = await draws(dir)
    expect(ok.output).toBe(join(dir, 'mlp_plots', 'index.html'))
    expect(existsSync(ok.output)).toBe(true)
    // an explicit -o is the user's choice, symlinked or not
    const out = await draws(dir, ['-o', join(elsewhere, 'page.html')])
    expect(existsSync(out.output)).toBe(true)
  })

  it('a FIFO as plot data is refused at once, and data under .git/ or .mlp/ through a symlink is refused; regular files draw (control)', async () => {
    const dir = await newProject(a.home)
    writeFileSync(join(dir, 'mlp.yaml'), 'plots:\n  - loss.csv:\n      y: loss\n  - g.yaml:\n      y: loss\n')
    writeFileSync(join(dir, 'g.yaml'), '- {loss: 1}\n- {loss: 0.5}\n')
    execFileSync('mkfifo', [join(dir, 'loss.csv')])
    // a plain open of the FIFO would wait for a writer forever: the command would time out instead
    await refused(dir, ['loss.csv'], 'loss.csv at workspace: not a regular file')
    rmSync(join(dir, 'loss.csv'))
    writeFileSync(join(dir, 'loss.csv'), 'step,loss\n0,1\n1,0.5\n')
    expect((await draws(dir, ['loss.csv'])).plots.map((p) => p.id)).toEqual(['loss.csv'])

    rmSync(join(dir, 'g.yaml'))
    symlinkSync('.git/config', join(dir, 'g.yaml'))
    await refused(dir, ['g.yaml'], 'g.yaml at workspace: leads into .git/, which holds no plot data: refused')
    rmSync(join(dir, 'g.yaml'))
    mkdirSync(join(dir, '.mlp'), { recursive: true })
    writeFileSync(join(dir, '.mlp', 'g.yaml'), '- {loss: 1}\n')
    symlinkSync('.mlp/g.yaml', join(dir, 'g.yaml'))
    await refused(dir, ['g.yaml'], 'g.yaml at workspace: leads into .mlp/, which holds no plot data: refused')
    rmSync(join(dir, 'g.yaml'))
    mkdirSync(join(dir, 'data'))
    writeFileSync(join(dir, 'data', 'g.yaml'), '- {loss: 1}\n- {loss: 0.5}\n')
    symlinkSync('data/g.yaml', join(dir, 'g.yaml'))
    expect((await draws(dir)).plots.map((p) => p.id)).toEqual(['loss.csv', 'g.yaml'])
  })
})
