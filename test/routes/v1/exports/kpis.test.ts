import { parse } from 'csv-parse/sync'
import t from 'tap'
import { bearer, build } from '../../../helper.js'
import { makeCityWithKey, makeKey } from '../../../factories.js'
import { addIncidents, createKpi, kpi } from '../kpis/fixtures.js'

const { app, database } = await build(t)
const db = database.db

const COLUMNS = ['kpi_code', 'period', 'period_start', 'period_end', 'value', 'numerator', 'denominator', 'target', 'baseline', 'unit', 'status', 'suppressed']

async function cityWithKpis () {
  const city = await makeCityWithKey(db, ['kpis:write', 'kpis:read', 'exports:read'])
  await addIncidents(db, city.id, [{ occurredOn: '2025-01-05', count: 14 }, { occurredOn: '2025-02-05', count: 3 }, { occurredOn: '2025-03-05', count: 12 },
    { occurredOn: '2025-04-05', count: 20 },
    { occurredOn: '2025-01-06', count: 6, includeInStatistics: false }])
  await createKpi(app, city.key, kpi({ code: 'incidents', targets: { '2025-01': 15 }, baseline: { value: 16, period: '2024' } }))
  const manual = await createKpi(app, city.key, kpi({ code: 'trainings', method: 'manual', metric: undefined, unit: 'days', direction: 'increase' }))
  await app.inject({ method: 'PUT', url: `/v1/kpis/${manual.id}/measurements/2025-02`, headers: bearer(city.key), payload: { value: 4.5 } })
  return city
}

t.test('the KPI export is long format, one row per KPI and period, parsed back by a real CSV parser, with suppressed values left empty', async (t) => {
  const city = await cityWithKpis()
  const res = await app.inject({ method: 'GET', url: '/v1/exports/kpis?from=2025-01&to=2025-03&format=csv', headers: bearer(city.key) })
  t.equal(res.statusCode, 200)
  t.match(res.headers['content-type'], /^text\/csv/)
  t.match(res.headers['content-disposition'], /^attachment; filename="city-[a-z0-9]+_kpis_2025-01_2025-03\.csv"$/)
  t.same(res.body.split('\r\n')[0]?.split(','), COLUMNS)
  const rows: Array<Record<string, string>> = parse(res.body, { columns: true, skip_empty_lines: true })
  t.equal(rows.length, 6)
  const row = (code: string, period: string) => rows.find((r) => r.kpi_code === code && r.period === period)
  t.same(row('incidents', '2025-01'), {
    kpi_code: 'incidents', period: '2025-01', period_start: '2025-01-01', period_end: '2025-01-31', value: '14', numerator: '14', denominator: '', target: '15', baseline: '16', unit: 'count', status: 'on_track', suppressed: 'false'
  }, 'opted-out reports are not counted')
  t.match(row('incidents', '2025-02'), { value: '', numerator: '', status: '', suppressed: 'true' })
  t.match(row('incidents', '2025-03'), { value: '', suppressed: 'true' }, 'the next-smallest month of the quarter is hidden with it')
  t.match(row('trainings', '2025-02'), { value: '4.5', unit: 'days', status: 'no_target' })
  t.match(row('trainings', '2025-03'), { value: '', suppressed: 'false' })
})

t.test('the export answers the same values as the series, in NDJSON, JSON and by Accept; a coarser period leaves manual KPIs out', async (t) => {
  const city = await cityWithKpis()
  const ndjson = await app.inject({ method: 'GET', url: '/v1/exports/kpis?from=2025-01&to=2025-03&format=ndjson', headers: bearer(city.key) })
  const lines = ndjson.body.trim().split('\n').map((l) => JSON.parse(l))
  t.equal(lines.length, 6)
  t.equal(lines[0].value, 14)
  t.equal(lines[0].suppressed, false)
  const json = await app.inject({ method: 'GET', url: '/v1/exports/kpis?from=2025-Q1&to=2025-Q1&period=quarter', headers: { ...bearer(city.key), accept: 'application/json' } })
  t.match(json.headers['content-type'], /^application\/json/)
  const quarter = json.json()
  t.same(quarter.map((r: { kpi_code: string }) => r.kpi_code), ['incidents'], 'the manual KPI is not rolled up')
  t.match(quarter[0], { value: 29, suppressed: false }, 'the quarter is shown: less the shown January it gives February and March together, 15, not one of them')
  const schema = await app.inject({ method: 'GET', url: '/v1/exports/kpis/schema', headers: bearer(city.key) })
  t.same(schema.json().fields.map((f: { name: string }) => f.name), COLUMNS)
  t.same(schema.json().missingValues, [''])
})

t.test('the KPI export needs exports:read', async (t) => {
  const city = await cityWithKpis()
  const reader = await makeKey(db, city.id, ['kpis:read'])
  t.equal((await app.inject({ method: 'GET', url: '/v1/exports/kpis', headers: bearer(reader.key) })).statusCode, 403)
  t.equal((await app.inject({ method: 'GET', url: '/v1/exports/kpis' })).statusCode, 401)
  const other = await makeCityWithKey(db, ['exports:read'])
  const res = await app.inject({ method: 'GET', url: '/v1/exports/kpis?format=ndjson', headers: bearer(other.key) })
  t.equal(res.statusCode, 200)
  t.equal(res.body, '', 'another city sees none of these KPIs')
})
