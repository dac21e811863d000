import type { TopLevelSpec } from 'vega-lite'
import { CONFUSION_SIZE, PLOT_HEIGHT, PLOT_WIDTH } from './constants.js'
import type { TemplateName } from './declarations.js'

// DVC's built-in templates as Vega-Lite specs, written for a static SVG (no
// hover rules or sliders). The data reach Vega-Lite under fixed field names
// (x, y, rev, series), so a field named `a.b` or `[0]` in a user's file is
// never read as a Vega path, and no user text becomes a Vega expression:
// titles and values are only ever drawn as text, which Vega escapes.

/** One data point, with the revision and series it belongs to. */
export interface PlotPoint {
  x: number | string
  y: number | string
  /** The revision's label (`workspace`, `HEAD~1`). */
  rev: string
  /** The legend entry: the revision, and the file and field when a plot has several. */
  series: string
}

/** What a template draws. */
export interface PlotInput {
  template: TemplateName
  title: string
  xTitle: string
  yTitle: string
  points: PlotPoint[]
  /** Revision labels in the order given: the facets of a confusion matrix. */
  revs: string[]
  /** Series labels in the order found: the legend's order. */
  series: string[]
}

/** Whether a template reads x and y as numbers (`quantitative`) or as categories (`nominal`). */
export function axisTypes (template: TemplateName): { x: 'quantitative' | 'nominal', y: 'quantitative' | 'nominal' } {
  if (template.startsWith('confusion')) return { x: 'nominal', y: 'nominal' }
  if (template.startsWith('bar_horizontal')) return { x: 'quantitative', y: 'nominal' }
  return { x: 'quantitative', y: 'quantitative' }
}

/** Lines with points stop drawing the points past this many: each point is an SVG path, and a dense line shows the shape alone. */
const MAX_MARKED_POINTS = 1000

/** The Vega-Lite spec of a plot, by its template. */
export function vegaLiteSpec (p: PlotInput): TopLevelSpec {
  if (p.template === 'confusion' || p.template === 'confusion_normalized') return confusionSpec(p, p.template === 'confusion_normalized')
  const color = {
    field: 'series',
    type: 'nominal' as const,
    title: null,
    sort: p.series,
    // one series needs no legend; several are listed under the plot, where long names fit
    legend: p.series.length > 1 ? { orient: 'bottom' as const, columns: 1, labelLimit: PLOT_WIDTH } : null
  }
  const base = {
    title: p.title,
    width: PLOT_WIDTH,
    height: PLOT_HEIGHT,
    data: { values: p.points }
  }
  if (p.template === 'bar_horizontal' || p.template === 'bar_horizontal_sorted') {
    return {
      ...base,
      mark: { type: 'bar' },
      encoding: {
        x: { field: 'x', type: 'quantitative', title: p.xTitle },
        y: { field: 'y', type: 'nominal', title: p.yTitle, sort: p.template === 'bar_horizontal_sorted' ? '-x' : null },
        yOffset: p.series.length > 1 ? { field: 'series', sort: p.series } : undefined,
        color
      }
    }
  }
  const encoding = {
    x: { field: 'x', type: 'quantitative' as const, title: p.xTitle, scale: { zero: false } },
    y: { field: 'y', type: 'quantitative' as const, title: p.yTitle, scale: { zero: false } },
    color
  }
  if (p.template === 'scatter') return { ...base, mark: { type: 'point', filled: true, size: 30 }, encoding }
  if (p.template === 'smooth') {
    return {
      ...base,
      encoding,
      layer: [
        { mark: { type: 'line', opacity: 0.25 } },
        { transform: [{ loess: 'y', on: 'x', groupby: ['series'], bandwidth: 0.3 }], mark: { type: 'line' } }
      ]
    }
  }
  const points = p.template === 'linear' && p.points.length <= MAX_MARKED_POINTS
  return { ...base, mark: { type: 'line', point: points ? { filled: true, size: 20 } : false }, encoding }
}

/**
 * DVC's confusion matrix: rows of predicted classes, columns of actual ones,
 * one matrix per revision side by side; each cell counts the records with
 * that pair (zero where none), or with `normalized` the share of the actual
 * class's records that were predicted so.
 */
function confusionSpec (p: PlotInput, normalized: boolean): TopLevelSpec {
  return {
    title: p.title,
    data: { values: p.points },
    facet: { column: { field: 'rev', type: 'nominal', title: null, sort: p.revs } },
    spec: {
      width: CONFUSION_SIZE,
      height: CONFUSION_SIZE,
      transform: [
        { aggregate: [{ op: 'count', as: 'count' }], groupby: ['rev', 'x', 'y'] },
        { impute: 'count', groupby: ['rev', 'y'], key: 'x', value: 0 },
        { impute: 'count', groupby: ['rev', 'x'], key: 'y', value: 0 },
        ...(normalized
          ? [
              { joinaggregate: [{ op: 'sum' as const, field: 'count', as: 'total' }], groupby: ['rev', 'x'] },
              { calculate: 'datum.total > 0 ? datum.count / datum.total : 0', as: 'value' }
            ]
          : [{ calculate: 'datum.count', as: 'value' }]),
        { joinaggregate: [{ op: 'max', field: 'value', as: 'max' }], groupby: ['rev'] },
        { calculate: 'datum.max > 0 ? datum.value / datum.max : 0', as: 'share' }
      ],
      encoding: {
        x: { field: 'x', type: 'nominal', sort: 'ascending', title: p.xTitle },
        y: { field: 'y', type: 'nominal', sort: 'ascending', title: p.yTitle }
      },
      layer: [
        { mark: 'rect', encoding: { color: { field: 'value', type: 'quantitative', title: normalized ? 'share' : 'count', ...(normalized ? { scale: { domain: [0, 1] } } : {}) } } },
        {
          mark: 'text',
          encoding: {
            text: { field: 'value', type: 'quantitative', format: normalized ? '.2f' : 'd' },
            color: { condition: { test: 'datum.share > 0.5', value: 'white' }, value: 'black' }
          }
        }
      ]
    }
  }
}
