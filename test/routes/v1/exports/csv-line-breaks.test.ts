import { parse } from 'csv-parse/sync'
import t, { type Test } from 'tap'
import { bearer, build } from '../../../helper.js'
import { makeCityWithKey } from '../../../factories.js'
import { createIncident, report } from '../incidents/fixtures.js'
import { addIncidents } from '../kpis/fixtures.js'
import { createOpenSurvey, response, submitResponses, surveyCity } from '../surveys/fixtures.js'

const { app, database } = await build(t)
const db = database.db

/**
 * Text a resident may write: a line break, then a formula. Neither a quote nor a comma, so that nothing but the
 * line break can make the cell quoted. One of each kind of line break.
 */
const INJECTED = ['Harbor\n=cmd|\' /C calc\'!A0', 'Harbor\r+cmd|\' /C calc\'!A0', 'Harbor\r\n@SUM(1+1)*cmd|\' /C calc\'!A0', 'Harbor\n-2+3']

/**
 * The CSV as a spreadsheet reads it: a row ends at CRLF, at a lone LF and at a lone CR alike (csv-parse alone
 * would take CRLF from the first line as the only record delimiter and hide a raw line break).
 */
const asSpreadsheets = (text: string): string[][] => parse(text, { record_delimiter: ['\r\n', '\n', '\r'], relax_column_count: true })

function expectNoInjectedRow (t: Test, text: string, column: string): void {
  const rows = asSpreadsheets(text)
  const header = rows[0] ?? []
  t.notOk(rows.some((row) => /^[=+\-@]/.test(row[0] ?? '')), 'no row begins with = + - or @')
  t.ok(rows.every((row) => row.length === header.length), 'every row has as many cells as the header')
  const at = header.indexOf(column)
  const cells = rows.slice(1).map((row) => row[at])
  for (const text of INJECTED) t.ok(cells.includes(text), `${JSON.stringify(text)} reads back whole, as one cell of ${column}`)
}

t.test('a neighbourhood with a line break and a formula stays one cell of /v1/exports/incident-counts', async (t) => {
  const city = await makeCityWithKey(db, ['exports:read'])
  await addIncidents(db, city.id, INJECTED.map((neighborhood) => ({ occurredOn: '2025-01-10', neighborhood, count: 12 })))
  const res = await app.inject({ method: 'GET', url: '/v1/exports/incident-counts?from=2025-01&to=2025-01&group_by=month,neighborhood&format=csv', headers: bearer(city.key) })
  t.equal(res.statusCode, 200)
  expectNoInjectedRow(t, res.body, 'neighborhood')
})

t.test('a neighbourhood with a line break and a formula stays one cell of /v1/exports/incidents (written by PostgreSQL on PostgreSQL)', async (t) => {
  const city = await makeCityWithKey(db)
  for (const [i, neighborhood] of INJECTED.entries()) {
    await createIncident(app, city.key, report({ occurred_on: `2024-02-1${i}`, location: { location_type: '57', neighborhood } }))
  }
  const res = await app.inject({ method: 'GET', url: '/v1/exports/incidents?format=csv', headers: bearer(city.key) })
  t.equal(res.statusCode, 200)
  expectNoInjectedRow(t, res.body, 'neighborhood')
})

t.test('a free-text survey answer with a line break and a formula stays one cell of the responses export', async (t) => {
  const city = await surveyCity(db)
  const opened = await createOpenSurvey(app, city.key)
  await submitResponses(app, city.key, opened.id, INJECTED.map((story) => response({ language: 'en', answers: { neighbourhood: 'downtown', safe: true, story } })))
  const res = await app.inject({ method: 'GET', url: `/v1/surveys/${opened.id as string}/responses/export?format=csv&language=en`, headers: bearer(city.key) })
  t.equal(res.statusCode, 200)
  expectNoInjectedRow(t, res.body, 'Anything else?')
})
