import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { mlp, mlpJson, tempDir } from './helpers/cli.js'
import { DaemonPool, type TestDaemon } from './helpers/daemons.js'
import { distinctPixelBytes, markdownToHtml, screenshot, tableCells } from './helpers/markdown-html.js'
import { git, reviewProjectV1, reviewProjectV2 } from './helpers/review.js'

// `mlp report`: a markdown review of a branch against the merge base with
// the remote's default branch, readable in a browser, with hostile file
// names from a commit shown as text.

const HOSTILE = 'x|`y`<script>alert(1)<!--](javascript:alert(1)) **z**.txt'

const pool = new DaemonPool()
let a: TestDaemon
let proj: string
let v1: string

// two commits with a pipeline run each (and daemons to start): slow beside other test files on two cores
beforeAll(async () => {
  a = await pool.start()
  proj = await reviewProjectV1(a.home)
  v1 = git(proj, ['rev-parse', 'HEAD']).trim()
  const remote = await tempDir('mlp-remote-')
  git(remote, ['init', '-q', '--bare'])
  git(proj, ['remote', 'add', 'origin', remote])
  git(proj, ['push', '-q', 'origin', 'HEAD:refs/heads/main'])
  git(proj, ['fetch', '-q', 'origin'])
  git(proj, ['checkout', '-q', '-b', 'feature'])
  writeFileSync(join(proj, 'data', HOSTILE), 'a file with a hostile name\n')
  await reviewProjectV2(a.home, proj)
}, 180_000)
afterAll(async () => { await pool.cleanup() })

describe('mlp report', () => {
  it('reviews the branch against the merge base: data, params, metrics with deltas and verdicts, stages, working plot links', async () => {
    const dir = await tempDir('mlp-report-')
    const file = join(dir, 'report.md')
    const r = await mlp(a.home, ['report', '-o', file], { cwd: proj })
    expect(r.code, r.stderr).toBe(0)
    expect(r.stdout).toContain('origin/main')
    const md = readFileSync(file, 'utf8')
    // the base it chose, and why
    expect(md).toContain(`at ${v1.slice(0, 12)} (merge base with origin/main`)
    // data summary: new.txt and the hostile file added, remove.txt deleted, big.bin and the model modified, one rename
    expect(md).toMatch(/\| added \| 2 \| /)
    expect(md).toMatch(/\| deleted \| 1 \| 10 B \|/)
    expect(md).toMatch(/\| renamed \| 1 \| /)
    expect(md).toContain('data/move\\_me.bin → data/moved.bin')
    // the param change and the metrics deltas, with which way is better from meta.mlp.metrics
    expect(md).toContain('| params.yaml | train.lr | 0.1 | 0.2 |')
    expect(md).toContain('| metrics.json | acc | 0.8 | 0.85 | +0.05 (+6.25%) | better (higher is better) |')
    expect(md).toContain('| metrics.json | loss | 0.5 | 0.4 | -0.1 (-20%) | better (lower is better) |')
    // the stage reran since the base, and where
    // the stage reran since the base, where, and how long it took (mlp.lock's duration_s)
    expect(md).toMatch(new RegExp(`\\| train \\| reran \\| ${a.peerId} \\| [0-9.]+ s \\|`))
    expect(readFileSync(join(proj, 'mlp.lock'), 'utf8')).toMatch(/duration_s: [0-9.]+/)
    // every relative link points at a file that exists beside the report
    const links = [...md.matchAll(/\]\(\.\/([^)]+)\)/g)].map((m) => m[1])
    expect(links.filter((l) => l.endsWith('.svg')).length).toBeGreaterThan(0)
    for (const l of links) expect(existsSync(join(dir, l)), l).toBe(true)
    // the plot of base and head, as a standalone SVG
    expect(md).toContain('### Loss by epoch')
    const svg = readFileSync(join(dir, links.find((l) => l.endsWith('.svg')) as string), 'utf8')
    expect(svg).toMatch(/^<svg[^>]*xmlns=/)
    expect(svg).toContain('base')
    expect(svg).toContain('head')
    // the hostile name is one cell of its row, and no markup
    const row = md.split('\n').find((l) => l.includes('javascript:') && l.startsWith('|'))
    expect(row).toBeDefined()
    expect(tableCells(row as string)).toHaveLength(3)
    const html = markdownToHtml(md)
    expect(html).not.toMatch(/<script/i)
    expect(html).not.toMatch(/href="javascript:/i)
    expect(html).toContain('x|`y`&lt;script&gt;alert(1)&lt;!--](javascript:alert(1)) **z**.txt')

    // rendered by a headless browser, the page is not blank (a blank page is the control)
    writeFileSync(join(dir, 'report.html'), html)
    writeFileSync(join(dir, 'blank.html'), '<!doctype html><html><body></body></html>')
    await screenshot(join(dir, 'report.html'), join(dir, 'report.png'))
    await screenshot(join(dir, 'blank.html'), join(dir, 'blank.png'))
    expect(distinctPixelBytes(join(dir, 'blank.png'))).toBeLessThan(8)
    expect(distinctPixelBytes(join(dir, 'report.png'))).toBeGreaterThan(32)
  }, 180_000)

  it('--json returns the markdown, the base and the diff; a given base is used as is; a bad base fails naming it', async () => {
    const r = await mlpJson<{ base: { rev: string, commit: string, how: string }, markdown: string, diff: { summary: { added: number } } }>(a.home, ['report', 'HEAD~1'], { cwd: proj })
    expect(r.base).toEqual({ rev: 'HEAD~1', commit: v1, how: 'given' })
    expect(r.markdown).toContain('# mlp report: feature against HEAD\\~1')
    expect(r.diff.summary.added).toBe(2)
    const bad = await mlp(a.home, ['report', 'nosuchbase'], { cwd: proj })
    expect(bad.code).not.toBe(0)
    expect(bad.stderr).toContain('nosuchbase')
  })

  // last: it runs an experiment, which changes the workspace
  it('lists the experiments that started on the branch, and a stage restored from the run cache as restored', async () => {
    const head = git(proj, ['rev-parse', 'HEAD']).trim()
    // a no-op repro leaves the lock as it was, duration_s included
    const ranLock = readFileSync(join(proj, 'mlp.lock'), 'utf8')
    expect(ranLock).toMatch(/duration_s: [0-9.]+/)
    await mlpJson(a.home, ['repro'], { cwd: proj })
    expect(readFileSync(join(proj, 'mlp.lock'), 'utf8')).toBe(ranLock)
    const run = await mlp(a.home, ['exp', 'run', '-S', 'train.lr=0.3', '-n', 'lr03'], { cwd: proj })
    expect(run.code, run.stderr).toBe(0)
    // back to the committed lr: the run cache has that run, so nothing runs and the lock says so
    writeFileSync(join(proj, 'params.yaml'), 'train:\n  lr: 0.2\n')
    await mlpJson(a.home, ['repro'], { cwd: proj })
    const lock = readFileSync(join(proj, 'mlp.lock'), 'utf8')
    expect(lock).toContain(`restored_from: ${a.peerId}`)
    expect(lock).not.toContain('duration_s')
    const onBranch = await mlpJson<{ markdown: string }>(a.home, ['report', head], { cwd: proj })
    expect(onBranch.markdown).toMatch(new RegExp(`\\| lr03 \\| this machine \\| done \\| ${a.peerId} \\| train\\.lr=0\\.3 \\| acc=0\\.85, loss=0\\.4 \\|`))
    expect(onBranch.markdown).toMatch(new RegExp(`\\| train \\| unchanged \\| ${a.peerId} \\| restored from the run cache of ${a.peerId} \\|`))
    // an experiment from a commit before the base is not the branch's (the control: it was listed above)
    git(proj, ['commit', '-q', '--allow-empty', '-m', 'after the experiment'])
    const later = await mlpJson<{ markdown: string }>(a.home, ['report', 'HEAD'], { cwd: proj })
    expect(later.markdown).toContain('## Experiments')
    expect(later.markdown).not.toContain('lr03')
  }, 180_000)
})
