import type { AbsentData, PlotRevision, RenderedPlot, SkippedPlot } from '@mlp/proto'

// The page `mlp plots` writes: one HTML file holding every SVG inline. It
// has no script and names no URL, and its Content-Security-Policy forbids
// loading anything, so it works offline and a value from a data file that
// slipped through could not run or fetch anything either.

/** Text for an HTML element or a quoted attribute. */
export function escapeHtml (text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`)
}

/** What a page shows. */
export interface PlotsPage {
  revisions: PlotRevision[]
  plots: RenderedPlot[]
  skipped?: SkippedPlot[]
  absent?: AbsentData[]
}

const STYLE = [
  'body{font-family:sans-serif;margin:24px;color:#222;background:#fff}',
  'h1{font-size:20px;margin:0 0 4px}',
  'p.revs{color:#555;margin:0 0 16px}',
  'section{display:inline-block;vertical-align:top;margin:0 24px 24px 0}',
  'h2{font-size:14px;font-weight:normal;color:#555;margin:0 0 4px}',
  'ul.skipped{color:#777}'
].join('')

/**
 * An SVG's ids (Vega's gradients and clip paths) and the references to
 * them, prefixed: inline in one page, two SVGs' `gradient_0` would collide
 * and one plot would paint with the other's colours.
 */
export function prefixIds (svg: string, prefix: string): string {
  return svg
    .replace(/\bid="([^"]*)"/g, `id="${prefix}$1"`)
    .replace(/url\(#([^)]*)\)/g, `url(#${prefix}$1)`)
    .replace(/href="#([^"]*)"/g, `href="#${prefix}$1"`)
}

function revisionText (r: PlotRevision): string {
  return r.commit == null ? r.rev : `${r.rev} (${r.commit.slice(0, 10)})`
}

/**
 * The HTML page of drawn plots. Every text mlp writes into it (ids, titles,
 * revisions) is escaped; the SVGs are Vega's, which escapes every text and
 * attribute it draws, and carry namespace names only, never a link.
 */
export function plotsHtml (page: PlotsPage): string {
  const revs = page.revisions.map(revisionText).join(', ')
  // the id above a plot only when its title does not already say it
  const sections = page.plots.map((p, i) => `<section>${p.title === p.id ? '' : `<h2>${escapeHtml(p.id)}</h2>`}\n${prefixIds(p.svg, `p${i}-`)}\n</section>`)
  const skipped = [
    ...(page.skipped ?? []).map((s) => `<li>${escapeHtml(s.id)}: ${escapeHtml(s.reason)}</li>`),
    ...(page.absent ?? []).map((a) => `<li>${escapeHtml(a.id)} at ${escapeHtml(a.rev)}: ${escapeHtml(a.rev)} has no ${escapeHtml(a.file)}</li>`)
  ]
  return [
    '<!DOCTYPE html>',
    '<html lang="en">',
    '<head>',
    '<meta charset="utf-8">',
    // nothing may load: no script, no style sheet, no image, no font, no frame
    '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; style-src \'unsafe-inline\'">',
    `<title>mlp plots: ${escapeHtml(revs)}</title>`,
    `<style>${STYLE}</style>`,
    '</head>',
    '<body>',
    '<h1>mlp plots</h1>',
    `<p class="revs">${page.plots.length} plot${page.plots.length === 1 ? '' : 's'} at ${escapeHtml(revs)}</p>`,
    ...sections,
    ...(skipped.length > 0 ? ['<p>Not drawn:</p>', `<ul class="skipped">${skipped.join('')}</ul>`] : []),
    '</body>',
    '</html>',
    ''
  ].join('\n')
}
