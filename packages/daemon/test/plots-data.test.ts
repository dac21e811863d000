import { describe, expect, it } from 'vitest'
import { firstRecordList, parseData, parseDelimited } from '../src/plots/data.js'

describe('plot data files', () => {
  it('reads CSV with a header, numbers as numbers, quoted cells, CRLF and blank lines', () => {
    const t = parseData('epoch,loss,name\r\n1,0.5,"a, ""b"""\r\n\r\n2,.25,"two\nlines"\r\n', 'l.csv', 'l.csv')
    expect(t.fields).toEqual(['epoch', 'loss', 'name'])
    expect(t.rows).toEqual([{ epoch: 1, loss: 0.5, name: 'a, "b"' }, { epoch: 2, loss: 0.25, name: 'two\nlines' }])
  })

  it('reads TSV, and CSV without a header as columns 0, 1, ...', () => {
    expect(parseData('a\tb\n1\t2\n', 'x.tsv', 'x.tsv').rows).toEqual([{ a: 1, b: 2 }])
    expect(parseData('1,cat\n2,dog\n', 'x.csv', 'x.csv', { header: false }).rows).toEqual([{ 0: 1, 1: 'cat' }, { 0: 2, 1: 'dog' }])
  })

  it('reads JSON and YAML: a top-level list, or the first list of records below', () => {
    expect(parseData('[{"x": 1, "y": 2}]', 'a.json', 'a.json').rows).toEqual([{ x: 1, y: 2 }])
    expect(parseData('{"meta": {"n": 1}, "train": [{"loss": 0.3}], "test": [{"loss": 0.4}]}', 'a.json', 'a.json').rows).toEqual([{ loss: 0.3 }])
    expect(parseData('roc:\n  - {fpr: 0, tpr: 0}\n  - {fpr: 1, tpr: 1}\n', 'r.yaml', 'r.yaml').fields).toEqual(['fpr', 'tpr'])
    expect(firstRecordList({ a: [1, 2], b: { c: [{ z: 1 }] } })).toEqual([{ z: 1 }])
  })

  it.each([
    ['bad.csv', 'a,b\n1,2\n3\n', 'bad.csv at HEAD:3: 1 comma-separated cells where the header has 2'],
    ['bad.csv', 'a,b\n"1,2\n', 'bad.csv at HEAD:2: a quoted cell is never closed'],
    ['bad.csv', 'a,b\n1,x"y\n', 'bad.csv at HEAD:2: a quote inside an unquoted cell'],
    ['bad.csv', 'a,a\n1,2\n', "the column 'a' is named twice"],
    ['bad.csv', '', 'is empty: nothing to plot'],
    ['bad.csv', 'a,b\n', 'has a header and no rows'],
    ['bad.json', '{"a": [1, 2', 'bad.json at HEAD: not valid JSON'],
    ['bad.json', '{"a": [1, 2]}', 'holds no list of records'],
    ['bad.yaml', 'a: [1\n', 'bad.yaml at HEAD: not valid YAML'],
    ['bad.txt', 'a,b\n1,2\n', "plots read CSV, TSV, JSON or YAML files (by their ending), not '.txt'"]
  ])('refuses %s %j', (file, text, message) => {
    expect(() => parseData(text, file, `${file} at HEAD`)).toThrow(message)
    expect(() => parseData(text, file, `${file} at HEAD`)).toThrow(expect.objectContaining({ name: 'PlotError' }))
  })

  it('a well-formed file of the same shape parses (control for the refusals)', () => {
    expect(parseDelimited('a,b\n1,2\n3,4\n', ',', 'ok.csv').rows).toHaveLength(2)
    expect(parseData('{"a": [{"b": 1}]}', 'ok.json', 'ok.json').rows).toEqual([{ b: 1 }])
  })
})
