import { describe, expect, it } from 'vitest'
import type { DiffResult } from '@mlp/proto'
import { fileLink, slug, text } from '../src/report/markdown.js'
import { renderReport } from '../src/report/render.js'

// Every value a report shows comes from a commit: hostile text must stay text.
const HOSTILE = ['a|b', 'x`rm -rf`y', '<script>alert(1)</script>', '[click](javascript:alert(1))', 'line\nbreak | cell', '**bold** _it_ ![img](x.png) <img src=x onerror=alert(1)>']

/** The number of cells of a markdown table row: `|` not preceded by a backslash. */
const cells = (row: string): number => row.split(/(?<!\\)\|/).length - 2

function diffWith (paths: string[]): DiffResult {
  const added = paths.map((p) => ({ path: p, out: 'data', new: { cid: 'bafk', size: 1 } }))
  return { a: { rev: 'main', commit: 'a'.repeat(40) }, b: { rev: 'workspace' }, added, deleted: [], modified: [], renamed: [], summary: { added: added.length, deleted: 0, modified: 0, renamed: 0, bytes: { added: added.length, deleted: 0, modifiedOld: 0, modifiedNew: 0 } }, fetchedBlocks: 0 }
}

describe('report markdown is inert', () => {
  it('text() keeps a value on one line, inside its cell, with no markup', () => {
    for (const h of HOSTILE) {
      const t = text(h)
      expect(t).not.toMatch(/\n/)
      expect(t).not.toMatch(/<[a-z]/i)
      expect(t).not.toMatch(/(?<!\\)[|`[\]]/)
    }
    // positive control: plain text is unchanged
    expect(text('data/train-01.csv')).toBe('data/train-01.csv')
  })

  it('a whole report with hostile paths, params, metrics and stage names keeps every table row the width of its header', () => {
    const md = renderReport({
      branch: HOSTILE[2],
      head: 'b'.repeat(40),
      base: { rev: 'main', commit: 'a'.repeat(40), how: 'given' },
      diff: diffWith(HOSTILE),
      params: HOSTILE.map((h) => ({ file: 'params.yaml', key: h, old: h, new: 1 })),
      metrics: [{ file: 'metrics.json', key: HOSTILE[1], old: 0.5, new: 0.7 }, { file: 'metrics.json', key: 'loss', old: 0.5, new: 0.7 }],
      directions: new Map([['metrics.json', { loss: 'lower' as const }]]),
      stages: HOSTILE.map((h) => ({ stage: h, ranOn: h, state: 'reran' as const })),
      plots: [],
      plotsRendered: true
    })
    const lines = md.split('\n')
    let width = -1
    for (const line of lines) {
      if (!line.startsWith('|')) {
        width = -1
        continue
      }
      if (width < 0) width = cells(line)
      expect(cells(line), line).toBe(width)
    }
    expect(md).not.toMatch(/<script/i)
    expect(md).not.toMatch(/\]\(javascript:/i)
    // the deltas and the verdict where the stage says which way is better
    expect(md).toContain('+0.2 (+40%)')
    expect(md).toMatch(/\| loss \| 0\.5 \| 0\.7 \| \+0\.2 \(\+40%\) \| worse \(lower is better\) \|/)
  })

  it('links only plain file names mlp made', () => {
    expect(fileLink('acc <b>', 'report-1-acc.svg')).toBe('[acc &lt;b&gt;](./report-1-acc.svg)')
    expect(() => fileLink('x', 'javascript:alert(1)')).toThrow()
    expect(() => fileLink('x', '../x.svg')).toThrow()
    expect(slug('Loss / epoch <script>')).toBe('loss-epoch-script')
    expect(slug('!!!')).toBe('plot')
  })
})
