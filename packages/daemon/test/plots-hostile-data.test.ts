import { describe, expect, it } from 'vitest'
import { parseData } from '../src/plots/data.js'
import { plotFromOptions } from '../src/plots/declarations.js'
import { seriesPoints } from '../src/plots/points.js'
import { MAX_CELL_CHARS, MAX_COLUMNS, MAX_FILE_CELLS, MAX_NESTING } from '../src/plots/constants.js'

// Plot data comes from a teammate's commit: hostile shapes must be refused
// with a PlotError (or read correctly), never crash or stall the parser.

const refused = (f: () => unknown, message: string): void => {
  expect(f).toThrow(message)
  expect(f).toThrow(expect.objectContaining({ name: 'PlotError' }))
}

describe('hostile plot data', () => {
  it('a long digit run ending in a letter is text, a 60 KB one is refused; a number of the same shape is a number (control)', () => {
    // the old number pattern backtracked quadratically on such a run: 60 KB stalled the daemon 9 s
    const run = '1'.repeat(MAX_CELL_CHARS - 1)
    expect(parseData(`a\n${run}x\n`, 'f.csv', 'f').rows).toEqual([{ a: `${run}x` }])
    refused(() => parseData(`a\n${'1'.repeat(60_000)}x\n`, 'f.csv', 'f'), 'f:2: a cell of 60001 characters')
    // a cell too long to be a double is text, not a rounded number
    expect(parseData(`a\n${'1'.repeat(65)}\n`, 'f.csv', 'f').rows[0].a).toBe('1'.repeat(65))
    expect(parseData('a,b,c,d\n-12.5e3, .5 ,7.,+3\n', 'f.csv', 'f').rows).toEqual([{ a: -12500, b: 0.5, c: 7, d: 3 }])
  })

  it('refuses a duplicate column in a 10,000-column header; unique columns up to the cap parse (control)', () => {
    const names = Array.from({ length: MAX_COLUMNS }, (_, i) => `c${i}`)
    refused(() => parseData(`${[...names.slice(1), 'c7'].join(',')}\n`, 'f.csv', 'f'), "f:1: the column 'c7' is named twice")
    const ok = names.slice(0, MAX_COLUMNS)
    const t = parseData(`${ok.join(',')}\n${ok.map(() => '1').join(',')}\n`, 'f.csv', 'f')
    expect(t.fields).toHaveLength(MAX_COLUMNS)
    expect(t.rows[0][`c${MAX_COLUMNS - 1}`]).toBe(1)
  })

  it(`refuses a record over ${MAX_COLUMNS} cells, in the header or below`, () => {
    const wide = Array.from({ length: MAX_COLUMNS + 1 }, (_, i) => `c${i}`).join(',')
    refused(() => parseData(`${wide}\n`, 'f.csv', 'f'), `f:1: over ${MAX_COLUMNS} cells in one record`)
    refused(() => parseData(`a\n${wide}\n`, 'f.csv', 'f'), `f:2: over ${MAX_COLUMNS} cells in one record`)
    // JSON records: the fields of all records together
    const keys = (n: number): string => JSON.stringify([{ a: 1 }, Object.fromEntries(Array.from({ length: n }, (_, i) => [`k${i}`, i]))])
    refused(() => parseData(keys(MAX_COLUMNS), 'f.json', 'f'), `f: over ${MAX_COLUMNS} fields in its records`)
    expect(parseData(keys(MAX_COLUMNS - 1), 'f.json', 'f').fields).toHaveLength(MAX_COLUMNS)
  })

  it(`refuses a file of over ${MAX_FILE_CELLS} cells (each a property of a row object); as many cells in all parse (control)`, () => {
    const cols = 1000
    const header = Array.from({ length: cols }, (_, i) => `c${i}`).join(',')
    const row = Array(cols).fill('1').join(',')
    const file = (rows: number): string => `${header}\n${`${row}\n`.repeat(rows)}`
    refused(() => parseData(file(MAX_FILE_CELLS / cols), 'f.csv', 'f'), `f:${MAX_FILE_CELLS / cols + 1}: over ${MAX_FILE_CELLS} cells in the file`)
    expect(parseData(file(MAX_FILE_CELLS / cols - 1), 'f.csv', 'f').rows).toHaveLength(MAX_FILE_CELLS / cols - 1)
  })

  it(`refuses a cell over ${MAX_CELL_CHARS} characters, quoted or not; one at the cap parses (control)`, () => {
    refused(() => parseData(`a,b\n1,${'x'.repeat(MAX_CELL_CHARS + 1)}\n`, 'f.csv', 'f'), `f:2: a cell of ${MAX_CELL_CHARS + 1} characters`)
    refused(() => parseData(`a,b\n1,"${'x""'.repeat(MAX_CELL_CHARS)}"\n`, 'f.csv', 'f'), 'f:2: a cell of')
    expect(parseData(`a,b\n1,${'x'.repeat(MAX_CELL_CHARS)}\n`, 'f.csv', 'f').rows[0].b).toHaveLength(MAX_CELL_CHARS)
    expect(parseData(`a,b\n1,"${'x""'.repeat(1000)}"\n`, 'f.csv', 'f').rows[0].b).toBe('x"'.repeat(1000))
  })

  it('quoted cells keep delimiters, doubled quotes and line breaks; text after a closing quote joins the cell', () => {
    const t = parseData('a\tb\n"x\ty"\t"1""2\n3"\n"q"r\t\n', 'f.tsv', 'f')
    expect(t.rows).toEqual([{ a: 'x\ty', b: '1"2\n3' }, { a: 'qr', b: '' }])
    refused(() => parseData('a\n"q"r"\n', 'f.csv', 'f'), 'f:2: a quote inside an unquoted cell')
  })

  it('refuses JSON and YAML nested 100,000 deep with a PlotError; records under nesting within the cap parse (control)', () => {
    const n = 100_000
    refused(() => parseData(`${'['.repeat(n)}${']'.repeat(n)}`, 'f.json', 'f'), `f: nested over ${MAX_NESTING} levels deep`)
    refused(() => parseData(`${'{"a":'.repeat(n)}1${'}'.repeat(n)}`, 'f.json', 'f'), `f: nested over ${MAX_NESTING} levels deep`)
    refused(() => parseData(`${'['.repeat(n)}${']'.repeat(n)}\n`, 'f.yaml', 'f'), `f: nested over ${MAX_NESTING} levels deep`)
    // block nesting by indentation: the YAML parser overflowed its stack at 879 levels
    const block = Array.from({ length: 1000 }, (_, i) => `${' '.repeat(i)}a:\n`).join('')
    refused(() => parseData(`${block}${' '.repeat(1000)}1\n`, 'f.yaml', 'f'), `f: nested over ${MAX_NESTING} levels deep`)
    // brackets inside JSON strings are text, not nesting
    expect(parseData(`[{"s": "${'['.repeat(1000)}"}]`, 'f.json', 'f').rows[0].s).toHaveLength(1000)
    expect(parseData('train:\n  - {loss: 0.5, step: 1}\n  - {loss: 0.4, step: 2}\n', 'f.yaml', 'f').rows).toHaveLength(2)
    const depth = MAX_NESTING - 2
    expect(parseData(`${'{"a":'.repeat(depth)}[{"x":1}]${'}'.repeat(depth)}`, 'f.json', 'f').rows).toEqual([{ x: 1 }])
  })

  it('refuses a drawn class name over 200 characters and numbers Vega cannot scale; ordinary values draw (control)', () => {
    const confusion = plotFromOptions('c', 'c.csv', { template: 'confusion', x: 'actual', y: 'predicted' }, '', 'mlp.yaml')
    const cm = (predicted: string): ReturnType<typeof seriesPoints> => seriesPoints(confusion, { ref: confusion.series[0], table: parseData(`actual,predicted\ncat,${predicted}\n`, 'c.csv', 'c') }, 'HEAD', 'HEAD', 'p')
    refused(() => cm('d'.repeat(201)), 'p: c.csv at HEAD, record 1: \'predicted\' is a class name of 201 characters')
    expect(cm('dog')).toEqual([{ x: 'cat', y: 'dog', rev: 'HEAD', series: 'HEAD' }])
    const linear = plotFromOptions('l', 'l.csv', { y: 'loss' }, '', 'mlp.yaml')
    const line = (loss: string): ReturnType<typeof seriesPoints> => seriesPoints(linear, { ref: linear.series[0], table: parseData(`loss\n${loss}\n`, 'l.csv', 'l') }, 'HEAD', 'HEAD', 'p')
    refused(() => line('5e-324'), "p: l.csv at HEAD, record 1: 'loss' is 5e-324")
    refused(() => line('-1e308'), "'loss' is -1e+308")
    expect(line('1e-5').map((p) => p.y)).toEqual([1e-5])
    expect(line('0').map((p) => p.y)).toEqual([0])
    // the y field inferred from a JSON record (its last key) is drawn as a title: a long one is refused
    const inferred = plotFromOptions('j', 'j.json', {}, '', 'mlp.yaml')
    const json = (key: string): ReturnType<typeof seriesPoints> => seriesPoints(inferred, { ref: inferred.series[0], table: parseData(JSON.stringify([{ [key]: 1 }]), 'j.json', 'j') }, 'HEAD', 'HEAD', 'p')
    refused(() => json('k'.repeat(201)), 'p: j.json at HEAD: its y field is a name of 201 characters')
    expect(json('loss').map((p) => p.y)).toEqual([1])
  })
})
