import { describe, expect, it } from 'vitest'
import { compile } from 'vega-lite'
import { TEMPLATES, plotFromOptions } from '../src/plots/declarations.js'
import { vegaSvg } from '../src/plots/vega-svg.js'
import { axisTypes, vegaLiteSpec, type PlotInput } from '../src/plots/templates.js'

function input (template: PlotInput['template'], revs = ['workspace']): PlotInput {
  const quantitative = axisTypes(template).y === 'quantitative'
  const points = revs.flatMap((rev) => [0, 1, 2, 3].map((i) => ({
    x: axisTypes(template).x === 'nominal' ? ['cat', 'dog'][i % 2] : i,
    y: quantitative ? i * 0.5 : ['cat', 'dog'][Math.floor(i / 2)],
    rev,
    series: rev
  })))
  return { template, title: 'T', xTitle: 'X', yTitle: 'Y', points, revs, series: revs }
}

describe('templates as Vega-Lite specs', () => {
  it('every template compiles to Vega and draws an SVG with its title', async () => {
    for (const t of TEMPLATES) {
      const spec = vegaLiteSpec(input(t, ['HEAD~1', 'workspace']))
      expect(() => compile(spec), t).not.toThrow()
      const svg = await vegaSvg(spec, t)
      expect(svg.startsWith('<svg'), t).toBe(true)
      expect(svg, t).toContain('>T</text>')
    }
  })

  it('xy templates read numbers on both axes under fixed field names, coloured by series', () => {
    const spec = vegaLiteSpec(input('linear')) as unknown as { mark: { type: string, point: unknown }, encoding: Record<string, { field: string, type: string }> }
    expect(spec.mark.type).toBe('line')
    expect(spec.mark.point).not.toBe(false)
    expect([spec.encoding.x.field, spec.encoding.x.type, spec.encoding.y.field, spec.encoding.y.type, spec.encoding.color.field]).toEqual(['x', 'quantitative', 'y', 'quantitative', 'series'])
    expect((vegaLiteSpec(input('simple')) as unknown as { mark: { point: unknown } }).mark.point).toBe(false)
    expect((vegaLiteSpec(input('scatter')) as unknown as { mark: { type: string } }).mark.type).toBe('point')
    expect(JSON.stringify(vegaLiteSpec(input('smooth')))).toContain('"loess":"y"')
  })

  it('bar_horizontal has numbers on x and categories on y; the sorted one sorts by x', () => {
    const bars = vegaLiteSpec(input('bar_horizontal')) as unknown as { mark: { type: string }, encoding: Record<string, { type: string, sort?: unknown }> }
    expect([bars.mark.type, bars.encoding.x.type, bars.encoding.y.type, bars.encoding.y.sort]).toEqual(['bar', 'quantitative', 'nominal', null])
    expect((vegaLiteSpec(input('bar_horizontal_sorted')) as unknown as typeof bars).encoding.y.sort).toBe('-x')
  })

  it('confusion counts pairs per revision, one matrix per revision; normalized divides by the actual class', async () => {
    const spec = vegaLiteSpec(input('confusion', ['a', 'b']))
    const text = JSON.stringify(spec)
    expect(text).toContain('"op":"count"')
    expect(text).toContain('"facet":{"column":{"field":"rev"')
    expect(JSON.stringify(vegaLiteSpec(input('confusion_normalized')))).toContain('datum.count / datum.total')
    // 4 records: (cat,cat) (dog,cat) (cat,dog) (dog,dog): every cell holds 1 in both matrices
    const svg = await vegaSvg(spec, 'confusion')
    expect(svg.match(/>1<\/text>/g)?.length).toBe(8)
  })

  it('an unknown template or a confusion plot without x is refused; a known one is accepted', () => {
    expect(() => plotFromOptions('p', 'p.csv', { template: 'fancy' }, '', 'mlp.yaml')).toThrow("mlp.yaml: plot 'p': unknown template \"fancy\" (mlp draws linear, simple, scatter")
    expect(() => plotFromOptions('p', 'p.csv', { template: 'confusion', y: 'predicted' }, '', 'mlp.yaml')).toThrow("needs 'x' (the actual class field)")
    expect(plotFromOptions('p', 'p.csv', { template: 'confusion', x: 'actual', y: 'predicted' }, '', 'mlp.yaml').template).toBe('confusion')
  })
})
