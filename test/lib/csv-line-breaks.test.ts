import { parse } from 'csv-parse/sync'
import t from 'tap'
import { csvLines } from '../../src/lib/streaming.js'

/**
 * Spreadsheets end a row at CRLF, at a lone LF and at a lone CR alike; read with only CRLF as the record
 * delimiter (csv-parse's guess from the first line), a raw line break inside a cell would go unnoticed.
 */
const asSpreadsheets = (text: string): string[][] => parse(text, { record_delimiter: ['\r\n', '\n', '\r'], relax_column_count: true })

const FORMULA_START = /^[=+\-@]/

t.test('a cell holding a lone LF, a lone CR or a CRLF is quoted, and reads back as one cell of its row', async (t) => {
  const breaks = { 'lone LF': '\n', 'lone CR': '\r', CRLF: '\r\n' }
  for (const [name, lineBreak] of Object.entries(breaks)) {
    const cell = `Harbor${lineBreak}=cmd|' /C calc'!A0`
    const text = csvLines([[cell, 3, 'after']])
    t.equal(text, `"${cell}",3,after\r\n`, `${name}: the cell is quoted, the row ends with CRLF`)
    const rows = asSpreadsheets(text)
    t.same(rows, [[cell, '3', 'after']], `${name}: one row of three cells, the line break kept inside its cell`)
    t.notOk(rows.some((row) => FORMULA_START.test(row[0] ?? '')), `${name}: no row begins with a formula`)
  }
})

t.test('a line break in a list cell, or in the only special character of a row, is quoted too', async (t) => {
  const rows = [
    ['Harbor\n@SUM(1+1)'],
    [1, ['a\r-2+3', 'b'], null],
    ['plain', 'also plain', 'x\ny']
  ]
  const parsed = asSpreadsheets(csvLines(rows))
  t.same(parsed, [['Harbor\n@SUM(1+1)'], ['1', 'a\r-2+3;b', ''], ['plain', 'also plain', 'x\ny']])
  t.notOk(parsed.some((row) => FORMULA_START.test(row[0] ?? '')), 'no row begins with a formula')
})

t.test('a cell beginning with a formula character is still neutralised, with or without a line break after it', async (t) => {
  const [row] = asSpreadsheets(csvLines([['=1+1\nmore', '\r=2', '-3']]))
  t.same(row, ["'=1+1\nmore", "'\r=2", "'-3"])
})

t.test('a row without quote, comma or line break is written unquoted, as csv-stringify would', async (t) => {
  t.equal(csvLines([['Harbor', 12, true, null, ['a', 'b']]]), 'Harbor,12,true,,a;b\r\n')
})
