import { execFile, execFileSync } from 'node:child_process'
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { promisify } from 'node:util'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { mlp, mlpJson, tempDir, waitFor } from './helpers/cli.js'
import { DaemonPool, type TestDaemon } from './helpers/daemons.js'
import { countPixels } from './helpers/png.js'
import { newProject } from './helpers/project.js'

const run = promisify(execFile)
const pool = new DaemonPool()
let a: TestDaemon
beforeAll(async () => { a = await pool.start() })
afterAll(async () => { await pool.cleanup() })

function git (dir: string, ...args: string[]): string {
  return execFileSync('git', ['-c', 'user.email=t@example.com', '-c', 'user.name=t', ...args], { cwd: dir, encoding: 'utf8' })
}

// A training stage whose two plot outs (cached, so not in git) change with the learning rate.
const TRAIN_JS = `const fs = require('fs')
const lr = Number(/lr: ([0-9.]+)/.exec(fs.readFileSync('params.yaml', 'utf8'))[1])
const loss = ['step,loss']
for (let i = 0; i < 30; i++) loss.push(i + ',' + (Math.exp(-lr * i) + 0.05 * Math.sin(i)).toFixed(4))
fs.writeFileSync('loss.csv', loss.join('\\n') + '\\n')
const classes = ['cat', 'dog', 'bird']
const preds = ['actual,predicted']
for (let i = 0; i < 90; i++) preds.push(classes[i % 3] + ',' + classes[(i * 7) % 10 < lr * 20 ? (i + 1) % 3 : i % 3])
fs.writeFileSync('preds.csv', preds.join('\\n') + '\\n')
`
const MLP_YAML = `stages:
  train:
    cmd: node train.js
    deps: [train.js]
    params: [train.lr]
    plots:
      - loss.csv:
          x: step
          y: loss
          title: Training loss
      - preds.csv:
          template: confusion
          x: actual
          y: predicted
`

/** A project with two commits of the training run (lr 0.1, then 0.3); the workspace holds the second. */
async function trainedProject (home: string): Promise<string> {
  const proj = await newProject(home)
  writeFileSync(join(proj, 'train.js'), TRAIN_JS)
  writeFileSync(join(proj, 'mlp.yaml'), MLP_YAML)
  for (const lr of ['0.1', '0.3']) {
    writeFileSync(join(proj, 'params.yaml'), `train:\n  lr: ${lr}\n`)
    await mlpJson(home, ['repro'], { cwd: proj })
    git(proj, 'add', '-A')
    git(proj, 'commit', '-qm', `lr ${lr}`)
  }
  return proj
}

/** Namespace names are the only URLs an inline SVG carries; nothing in the page may point anywhere. */
function externalReferences (html: string): string[] {
  const namespaces = new Set(['http://www.w3.org/2000/svg', 'http://www.w3.org/1999/xlink'])
  const urls = (html.match(/https?:\/\/[^\s"'<>)]+/gi) ?? []).filter((u) => !namespaces.has(u))
  const attrs = (html.match(/\b(?:src|href|action|srcset|data)\s*=\s*"[^#"][^"]*"/gi) ?? [])
  const css = (html.match(/url\((?!#)[^)]*\)|@import/gi) ?? [])
  const tags = (html.match(/<(?:script|link|iframe|object|embed|img)\b/gi) ?? [])
  return [...urls, ...attrs, ...css, ...tags]
}

/** Headless Chromium's screenshot of a page, as users' browsers would draw it. */
async function screenshot (page: string): Promise<ReturnType<typeof countPixels>> {
  const dir = await tempDir('mlp-chromium-')
  const png = join(dir, 'shot.png')
  await run('chromium', ['--headless', '--no-sandbox', '--disable-gpu', '--hide-scrollbars', `--user-data-dir=${join(dir, 'profile')}`, `--screenshot=${png}`, '--window-size=1200,900', pathToFileURL(page).href], { timeout: 90_000 })
  return countPixels(png)
}

interface PlotsJson { output: string, revisions: Array<{ rev: string, commit?: string }>, plots: Array<{ id: string, title: string, template: string, svg: string }> }

describe('mlp plots', () => {
  let proj: string

  beforeAll(async () => { proj = await trainedProject(a.home) }, 120_000)

  it('show: one offline HTML page with an SVG per plot, which Chromium draws', async () => {
    const r = await mlp(a.home, ['plots', 'show'], { cwd: proj })
    expect(r.stderr).toBe('')
    expect(r.code).toBe(0)
    // DVC writes dvc_plots/index.html; mlp writes mlp_plots/index.html
    const page = join(proj, 'mlp_plots', 'index.html')
    expect(r.stdout).toContain('wrote mlp_plots/index.html')
    const html = readFileSync(page, 'utf8')
    expect(html.match(/<svg /g)).toHaveLength(2)
    expect(html).toContain('>Training loss</text>')
    expect(html).toContain('>predicted</text>')
    expect(externalReferences(html)).toEqual([])
    // control: the check sees a script from a CDN, a linked style sheet and a remote image
    expect(externalReferences('<script src="https://cdn.example/vega.js"></script><link href="//cdn.example/a.css"><svg><image href="http://x/y.png"/></svg>')).toEqual(expect.arrayContaining(['<script', 'href="//cdn.example/a.css"', 'href="http://x/y.png"']))

    const drawn = await screenshot(page)
    // control: a blank page, drawn the same way, has next to nothing on it
    const blankPage = join(await tempDir(), 'blank.html')
    writeFileSync(blankPage, '<!DOCTYPE html><html><body></body></html>')
    const blank = await screenshot(blankPage)
    expect([drawn.width, drawn.height]).toEqual([1200, 900])
    expect(blank.nonWhite).toBeLessThan(100)
    expect(drawn.nonWhite).toBeGreaterThan(20_000)
    // the line and the matrix cells are in colour, not only black text
    expect(drawn.coloured).toBeGreaterThan(5_000)
  }, 120_000)

  it('diff HEAD~1: both revisions in each plot; the cached data of HEAD~1 comes through its mlp.lock', async () => {
    const out = join(proj, 'compare.html')
    const res = await mlpJson<PlotsJson>(a.home, ['plots', 'diff', 'HEAD~1', '-o', 'compare.html'], { cwd: proj })
    expect(res.output).toBe(out)
    expect(res.revisions.map((r) => r.rev)).toEqual(['HEAD~1', 'workspace'])
    expect(res.revisions[0].commit).toBe(git(proj, 'rev-parse', 'HEAD~1').trim())
    expect(res.plots.map((p) => [p.id, p.template])).toEqual([['loss.csv', 'linear'], ['preds.csv', 'confusion']])
    // the loss legend and the matrices' headers name both revisions
    for (const p of res.plots) {
      expect(p.svg, p.id).toContain('>HEAD~1</text>')
      expect(p.svg, p.id).toContain('>workspace</text>')
    }
    // loss.csv is not in git: HEAD~1's version (lr 0.1) differs from the workspace's (lr 0.3)
    expect(git(proj, 'ls-files', 'loss.csv', 'preds.csv').trim()).toBe('')
    const html = readFileSync(out, 'utf8')
    expect(html.match(/<svg /g)).toHaveLength(2)
    expect(externalReferences(html)).toEqual([])
    expect((await screenshot(out)).coloured).toBeGreaterThan(5_000)

    // two commits, no workspace: the same plots, from the store alone (and --targets takes one value: HEAD~1 stays a revision)
    const both = await mlpJson<PlotsJson>(a.home, ['plots', 'diff', '--targets', 'loss.csv', 'HEAD~1', 'HEAD', '-o', 'two.html'], { cwd: proj })
    expect(both.revisions.map((r) => r.rev)).toEqual(['HEAD~1', 'HEAD'])
    expect(both.plots.map((p) => p.id)).toEqual(['loss.csv'])
  }, 120_000)

  it('diff reads a data file `mlp add` tracks through the pointer file of each commit', async () => {
    const dir = await newProject(a.home)
    writeFileSync(join(dir, 'mlp.yaml'), 'plots:\n  - logs/acc.json:\n      y: acc\nstages:\n  s:\n    cmd: echo\n')
    for (const accs of [[10, 20], [30, 40]]) {
      execFileSync('mkdir', ['-p', join(dir, 'logs')])
      writeFileSync(join(dir, 'logs', 'acc.json'), JSON.stringify({ train: accs.map((acc, step) => ({ step, acc })) }))
      await mlpJson(a.home, ['add', 'logs'], { cwd: dir })
      git(dir, 'add', '-A')
      git(dir, 'commit', '-qm', `acc ${accs.join(' ')}`)
    }
    expect(git(dir, 'ls-files', 'logs').trim()).toBe('')
    const res = await mlpJson<PlotsJson>(a.home, ['plots', 'diff', 'HEAD~1', 'HEAD'], { cwd: dir })
    expect(res.plots.map((p) => p.id)).toEqual(['logs/acc.json'])
    expect(res.plots[0].svg).toContain('>HEAD~1</text>')
    expect(res.plots[0].svg).toContain('>HEAD</text>')
    // 40 is only in HEAD's file: the y axis reaches it only if that version was read
    expect(res.plots[0].svg).toContain('>40</text>')
  }, 120_000)

  it('bad input: one line, non-zero exit, no page written; each with a passing control', async () => {
    const page = join(proj, 'bad.html')
    const fails = async (args: string[], message: string): Promise<void> => {
      const r = await mlp(a.home, [...args, '-o', 'bad.html'], { cwd: proj })
      expect(r.code, r.stdout).not.toBe(0)
      expect(r.stderr).toContain(message)
      expect(r.stderr.trim().split('\n')).toHaveLength(1)
      expect(existsSync(page)).toBe(false)
    }
    await fails(['plots', 'diff', 'no-such-branch'], 'unknown revision "no-such-branch"')
    await fails(['plots', 'show', 'no-such-plot'], "no plot 'no-such-plot': the plots are loss.csv, preds.csv")

    const good = readFileSync(join(proj, 'loss.csv'), 'utf8')
    writeFileSync(join(proj, 'loss.csv'), 'step,loss\n1,0.5\n2\n')
    await fails(['plots', 'show'], 'loss.csv at workspace:3: 1 comma-separated cells where the header has 2')
    writeFileSync(join(proj, 'loss.csv'), 'step,accuracy\n1,0.5\n')
    await fails(['plots', 'show'], "field 'loss' is not in loss.csv at workspace (its fields: 'step', 'accuracy')")
    rmSync(join(proj, 'loss.csv'))
    await fails(['plots', 'show'], 'loss.csv at workspace: not in the workspace: run `mlp repro`')
    writeFileSync(join(proj, 'loss.csv'), good)

    const yaml = readFileSync(join(proj, 'mlp.yaml'), 'utf8')
    writeFileSync(join(proj, 'mlp.yaml'), yaml.replace('template: confusion', 'template: pie'))
    await fails(['plots', 'show'], 'unknown template "pie"')
    writeFileSync(join(proj, 'mlp.yaml'), yaml)

    const empty = await newProject(a.home)
    writeFileSync(join(empty, 'mlp.yaml'), 'stages:\n  s:\n    cmd: echo\n')
    const none = await mlp(a.home, ['plots', 'show'], { cwd: empty })
    expect(none.code).not.toBe(0)
    expect(none.stderr).toContain('no plots declared in ')
    expect(none.stderr).toContain("add a stage's `plots:` or a top-level `plots:` list")

    // control: restored, the same command draws
    const ok = await mlp(a.home, ['plots', 'show', '-o', 'bad.html'], { cwd: proj })
    expect(ok.code, ok.stderr).toBe(0)
    expect(existsSync(page)).toBe(true)
  })

  it('a hostile title or field name is drawn as text: the page gets no script or element from it', async () => {
    const evil = '</script><script>alert(1)</script><img src=x onerror=alert(2)>'
    const dir = await newProject(a.home)
    writeFileSync(join(dir, 'mlp.yaml'), `plots:\n  - evil.json:\n      title: ${JSON.stringify(evil)}\n      y: ${JSON.stringify(evil)}\nstages:\n  s:\n    cmd: echo\n`)
    writeFileSync(join(dir, 'evil.json'), JSON.stringify([1, 2, 3].map((i) => ({ [evil]: i, name: evil }))))
    const res = await mlpJson<PlotsJson>(a.home, ['plots', 'show'], { cwd: dir })
    expect(res.plots[0].title).toBe(evil)
    const html = readFileSync(res.output, 'utf8')
    expect(html).toContain('&lt;/script&gt;&lt;script&gt;alert(1)')
    expect(externalReferences(html)).toEqual([])
    expect((await screenshot(res.output)).nonWhite).toBeGreaterThan(5_000)
  }, 120_000)

  it('diff on a clone: data the store lacks comes from a peer, or a clear error says which revision is missing', async () => {
    const b = await pool.start()
    const clone = await tempDir('mlp-clone-')
    git(clone, 'clone', '-q', proj, '.')
    const missing = await mlp(b.home, ['plots', 'diff', 'HEAD~1', 'HEAD', '-o', 'p.html'], { cwd: clone, timeoutMs: 60_000 })
    expect(missing.code).not.toBe(0)
    expect(missing.stderr).toMatch(/loss\.csv at HEAD~1: its data \(loss\.csv, \S+ in mlp\.lock stage 'train'\) is not on this machine and no peer gave it/)
    expect(missing.stderr.trim().split('\n')).toHaveLength(1)
    expect(existsSync(join(clone, 'p.html'))).toBe(false)

    // control: connected to the daemon that ran the stages, the same command fetches and draws
    await mlpJson(b.home, ['peers', 'add', a.addrs[0]])
    const res = await mlpJson<PlotsJson>(b.home, ['plots', 'diff', 'HEAD~1', 'HEAD', '-o', 'p.html'], { cwd: clone })
    expect(res.plots.map((p) => p.id)).toEqual(['loss.csv', 'preds.csv'])
    // the bytes that came from the peer draw exactly what the machine that made them draws
    const here = await mlpJson<PlotsJson>(a.home, ['plots', 'diff', 'HEAD~1', 'HEAD', '-o', 'p.html'], { cwd: proj })
    expect(res.plots[0].svg).toBe(here.plots[0].svg)
    expect(res.plots[0].svg).toContain('>HEAD~1</text>')
  }, 120_000)

  // last: it runs an experiment in the project
  it('diff <experiment>: its data comes from its recorded lock, labelled with its name; a revision of that name wins', async () => {
    const head = git(proj, 'rev-parse', 'HEAD').trim()
    const run = await mlp(a.home, ['exp', 'run', '-S', 'train.lr=0.7', '-n', 'lr07'], { cwd: proj })
    expect(run.code, run.stderr).toBe(0)
    // the workspace back at HEAD's lr (restored from the run cache): only the experiment's record has lr 0.7's data now
    writeFileSync(join(proj, 'params.yaml'), 'train:\n  lr: 0.3\n')
    await mlpJson(a.home, ['repro'], { cwd: proj })
    const exp = await mlpJson<PlotsJson>(a.home, ['plots', 'diff', 'lr07', '--targets', 'loss.csv', '-o', 'exp.html'], { cwd: proj })
    expect(exp.revisions).toEqual([{ rev: 'lr07', commit: head }, { rev: 'workspace' }])
    expect(exp.plots[0].svg).toContain('>lr07</text>')
    // two different lines: the experiment's loss is not its base commit's (the control: HEAD against the workspace is one line twice)
    expect(new Set(linePaths(exp.plots[0].svg)).size).toBe(2)
    const same = await mlpJson<PlotsJson>(a.home, ['plots', 'diff', 'HEAD', '--targets', 'loss.csv', '-o', 'same.html'], { cwd: proj })
    expect(linePaths(same.plots[0].svg)).toHaveLength(2)
    expect(new Set(linePaths(same.plots[0].svg)).size).toBe(1)
    // a branch of the same name is the revision drawn
    git(proj, 'branch', 'lr07', 'HEAD~1')
    const branch = await mlpJson<PlotsJson>(a.home, ['plots', 'diff', 'lr07', '--targets', 'loss.csv', '-o', 'branch.html'], { cwd: proj })
    expect(branch.revisions[0]).toEqual({ rev: 'lr07', commit: git(proj, 'rev-parse', 'HEAD~1').trim() })
    // neither a revision nor an experiment: one line naming it
    const none = await mlp(a.home, ['plots', 'diff', 'nosuchexp', '-o', 'none.html'], { cwd: proj })
    expect(none.code).not.toBe(0)
    expect(none.stderr).toContain('nosuchexp')
    expect(existsSync(join(proj, 'none.html'))).toBe(false)
  }, 180_000)

  it('diff <experiment> on a teammate\'s clone: the record comes by sync, its outs from the peer that ran it', async () => {
    const b = await pool.start()
    const clone = await tempDir('mlp-clone-exp-')
    git(clone, 'clone', '-q', proj, '.')
    await mlpJson(b.home, ['peers', 'add', a.addrs[0]])
    await waitFor('the experiment record on the teammate', async () => (await mlpJson<Array<{ name: string }>>(b.home, ['exp', 'show'], { cwd: clone })).some((r) => r.name === 'lr07'), 60_000)
    // a's branch lr07 is origin/lr07 here: the bare name is the experiment's
    // the clone's workspace has no loss.csv (a cached out): the experiment against HEAD, both from a's store
    const res = await mlpJson<PlotsJson>(b.home, ['plots', 'diff', 'lr07', 'HEAD', '--targets', 'loss.csv', '-o', 'exp.html'], { cwd: clone })
    expect(res.revisions.map((r) => r.rev)).toEqual(['lr07', 'HEAD'])
    expect(new Set(linePaths(res.plots[0].svg)).size).toBe(2)
    // drawn from bytes fetched from a: exactly what a draws
    // (on a, lr07 is a branch now: `<author>/<name>` names the experiment)
    const here = await mlpJson<PlotsJson>(a.home, ['plots', 'diff', `${a.peerId}/lr07`, 'HEAD', '--targets', 'loss.csv', '-o', 'exp.html'], { cwd: proj })
    expect(res.plots[0].svg).toBe(here.plots[0].svg)
  }, 180_000)
})

/** The `d` of each line a plot's SVG draws (Vega's line marks), one per series. */
function linePaths (svg: string): string[] {
  const groups = svg.match(/<g class="mark-line[\s\S]*?<\/g>/g) ?? []
  return groups.flatMap((g) => [...g.matchAll(/<path[^>]*\sd="([^"]+)"/g)].map((m) => m[1]))
}
