import { sql } from 'drizzle-orm'
import t from 'tap'
import { query } from '../../../../src/db/client.js'
import { bearer, build } from '../../../helper.js'
import { makeCityWithKey } from '../../../factories.js'
import { addIncidents, byPeriod, createKpi, kpi, series } from './fixtures.js'

const { app, database } = await build(t)
const db = database.db

t.test('a KPI is created with 201, Location and ETag, read back, listed by code, patched with If-Match and deleted', async (t) => {
  const city = await makeCityWithKey(db, ['kpis:write', 'kpis:read', 'plans:read'])
  const created = await app.inject({
    method: 'POST',
    url: '/v1/kpis',
    headers: bearer(city.key),
    payload: kpi({ code: 'b-incidents', baseline: { value: 40, period: '2024' }, targets: { '2026-01': 10 }, description: { en: 'All reports that count' } })
  })
  t.equal(created.statusCode, 201, created.body)
  const body = created.json()
  t.equal(created.headers.location, `/v1/kpis/${body.id as string}`)
  t.ok(created.headers.etag)
  t.same(body.baseline, { value: 40, period: '2024' })
  t.same(body.targets, { '2026-01': 10 })
  t.same(body.parameters, {})
  await createKpi(app, city.key, kpi({ code: 'a-manual', method: 'manual', metric: undefined, unit: 'days' }))

  const list = await app.inject({ method: 'GET', url: '/v1/kpis?limit=1', headers: bearer(city.key) })
  t.same(list.json().data.map((k: { code: string }) => k.code), ['a-manual'])
  const next = await app.inject({ method: 'GET', url: `/v1/kpis?limit=1&cursor=${encodeURIComponent(list.json().next_cursor as string)}`, headers: bearer(city.key) })
  t.same(next.json().data.map((k: { code: string }) => k.code), ['b-incidents'])

  const read = await app.inject({ method: 'GET', url: `/v1/kpis/${body.id as string}`, headers: bearer(city.key) })
  const noMatch = await app.inject({ method: 'PATCH', url: `/v1/kpis/${body.id as string}`, headers: bearer(city.key), payload: { direction: 'increase' } })
  t.equal(noMatch.statusCode, 428)
  const patched = await app.inject({
    method: 'PATCH',
    url: `/v1/kpis/${body.id as string}`,
    headers: { ...bearer(city.key), 'if-match': read.headers.etag as string },
    payload: { targets: { '2026-01': null, '2026-02': 8 }, parameters: { incident_type: ['hate_crime'] }, baseline: null }
  })
  t.equal(patched.statusCode, 200, patched.body)
  t.same(patched.json().targets, { '2026-02': 8 })
  t.same(patched.json().parameters, { incident_type: ['hate_crime'] })
  t.equal(patched.json().baseline, null)
  t.equal(patched.json().version, 2)
  const stale = await app.inject({ method: 'PATCH', url: `/v1/kpis/${body.id as string}`, headers: { ...bearer(city.key), 'if-match': read.headers.etag as string }, payload: { direction: 'increase' } })
  t.equal(stale.statusCode, 412)

  const deleted = await app.inject({ method: 'DELETE', url: `/v1/kpis/${body.id as string}`, headers: bearer(city.key) })
  t.equal(deleted.statusCode, 204)
  t.equal((await app.inject({ method: 'GET', url: `/v1/kpis/${body.id as string}`, headers: bearer(city.key) })).statusCode, 404)
})

t.test('bad definitions are refused with the failing paths and write nothing', async (t) => {
  const city = await makeCityWithKey(db, ['kpis:write', 'kpis:read'])
  const cases: Array<[Record<string, unknown>, number, string]> = [
    [kpi({ metric: undefined }), 400, '/body/metric'],
    [kpi({ method: 'manual' }), 400, '/body/metric'],
    [kpi({ unit: 'percent' }), 400, '/body/unit'],
    [kpi({ parameters: { incident_type: ['riot'] } }), 400, '/body/parameters/incident_type/0'],
    [kpi({ parameters: { colour: 'red' } }), 400, '/body/parameters/colour'],
    [kpi({ targets: { '2026-13': 4 } }), 400, '/body/targets'],
    [kpi({ metric: 'no_such_metric' }), 400, '/body/metric'],
    [kpi({ code: 'Has Spaces' }), 400, '/body/code']
  ]
  for (const [body, status, path] of cases) {
    const res = await app.inject({ method: 'POST', url: '/v1/kpis', headers: bearer(city.key), payload: body })
    t.equal(res.statusCode, status, path)
    t.ok((res.json().errors ?? []).some((e: { path: string }) => e.path.startsWith(path)), `the problem names ${path}`)
  }
  await createKpi(app, city.key, kpi({ code: 'taken' }))
  const dup = await app.inject({ method: 'POST', url: '/v1/kpis', headers: bearer(city.key), payload: kpi({ code: 'taken' }) })
  t.equal(dup.statusCode, 409)
  const [counted] = await query<{ n: number }>(db, sql`SELECT count(*)::int AS n FROM kpis WHERE city_id = ${city.id}::uuid`)
  t.equal(counted?.n, 1)
})

t.test('a manual KPI takes values by its own period: insert 201, replace 200, wrong length 422; a computed KPI refuses values with 409', async (t) => {
  const city = await makeCityWithKey(db, ['kpis:write', 'kpis:read'])
  const manual = await createKpi(app, city.key, kpi({ method: 'manual', metric: undefined, unit: 'percent', direction: 'increase', period: 'quarter', targets: { '2025-Q1': 50, '2025-Q2': 50 } }))
  const put = async (id: string, period: string, payload: unknown) => await app.inject({ method: 'PUT', url: `/v1/kpis/${id}/measurements/${period}`, headers: bearer(city.key), payload: payload as never })
  const first = await put(manual.id, '2025-Q1', { value: 40, numerator: 4, denominator: 10 })
  t.equal(first.statusCode, 201, first.body)
  t.same({ ...first.json(), updated_at: 'x' }, { kpi_id: manual.id, period: '2025-Q1', period_start: '2025-01-01', value: 40, numerator: 4, denominator: 10, updated_at: 'x' })
  const again = await put(manual.id, '2025-Q1', { value: 55 })
  t.equal(again.statusCode, 200)
  t.equal(again.json().value, 55)
  t.equal(again.json().numerator, null)
  t.equal((await put(manual.id, '2025-03', { value: 1 })).statusCode, 422, 'a month for a quarterly KPI')
  t.equal((await put(manual.id, '2025-Q5', { value: 1 })).statusCode, 400)

  const res = await series(app, city.key, manual.id, 'from=2025-Q1&to=2025-Q2')
  t.equal(res.statusCode, 200, res.body)
  const points = byPeriod(res.json())
  t.match(points.get('2025-Q1'), { value: 55, target: 50, status: 'on_track', suppressed: false, reason: null })
  t.match(points.get('2025-Q2'), { value: null, target: 50, status: null, reason: 'no_measurement' })
  const rolled = await series(app, city.key, manual.id, 'from=2025&to=2025&period=year')
  t.equal(rolled.statusCode, 422, 'manual values are not rolled up')
  t.equal((await series(app, city.key, manual.id, 'from=2025&to=2025&period=month')).statusCode, 422, 'finer than its own period')

  const computed = await createKpi(app, city.key)
  const refused = await put(computed.id, '2025-01', { value: 3 })
  t.equal(refused.statusCode, 409)
  const [counted] = await query<{ n: number }>(db, sql`SELECT count(*)::int AS n FROM kpi_measurements WHERE city_id = ${city.id}::uuid`)
  t.equal(counted?.n, 1)
})

t.test('status follows the direction against each period\'s target; no target says no_target', async (t) => {
  const city = await makeCityWithKey(db, ['kpis:write', 'kpis:read'])
  await addIncidents(db, city.id, [{ occurredOn: '2025-01-10', count: 12 }, { occurredOn: '2025-02-10', count: 20 }, { occurredOn: '2025-03-05', count: 15 }])
  const down = await createKpi(app, city.key, kpi({ direction: 'decrease', targets: { '2025-01': 15, '2025-02': 15 }, baseline: { value: 18, period: '2024' } }))
  const res = await series(app, city.key, down.id, 'from=2025-01&to=2025-03')
  const body = res.json()
  t.same(body.baseline, { value: 18, period: '2024' })
  const p = byPeriod(body)
  t.match(p.get('2025-01'), { value: 12, numerator: 12, denominator: null, target: 15, status: 'on_track' })
  t.match(p.get('2025-02'), { value: 20, target: 15, status: 'off_track' })
  t.match(p.get('2025-03'), { value: 15, target: null, status: 'no_target' })
  const up = await createKpi(app, city.key, kpi({ direction: 'increase', targets: { '2025-Q1': 40 }, period: 'month' }))
  const quarter = byPeriod((await series(app, city.key, up.id, 'from=2025-Q1&to=2025-Q1&period=quarter')).json())
  t.match(quarter.get('2025-Q1'), { value: 47, period_start: '2025-01-01', period_end: '2025-03-31', target: 40, status: 'on_track' })
})

t.test('the summary shows every KPI\'s latest value against its target, in one statement', async (t) => {
  const city = await makeCityWithKey(db, ['kpis:write', 'kpis:read'])
  const manual = await createKpi(app, city.key, kpi({ code: 'm', method: 'manual', metric: undefined, period: 'year', unit: 'score', targets: { 2024: 3 } }))
  await app.inject({ method: 'PUT', url: `/v1/kpis/${manual.id}/measurements/${new Date().getUTCFullYear() - 1}`, headers: bearer(city.key), payload: { value: 4 } })
  await createKpi(app, city.key, kpi({ code: 'c' }))
  const res = await app.inject({ method: 'GET', url: '/v1/kpis/summary', headers: bearer(city.key) })
  t.equal(res.statusCode, 200)
  const [c, m] = res.json().data
  t.equal(c.code, 'c')
  t.match(c.latest, { value: 0, suppressed: false })
  t.equal(m.code, 'm')
  t.equal(m.latest.value, 4)
  t.equal(m.latest.period, String(new Date().getUTCFullYear() - 1))
})

t.test('the metric catalog lists every metric with its parameters', async (t) => {
  const city = await makeCityWithKey(db, ['kpis:read'])
  const res = await app.inject({ method: 'GET', url: '/v1/kpis/metrics', headers: bearer(city.key) })
  t.equal(res.statusCode, 200)
  const names = res.json().data.map((m: { metric: string }) => m.metric)
  for (const name of ['incident_count', 'incident_rate', 'incident_referred_share', 'legs_with_active_member', 'cross_leg_ties', 'leadership_group_size', 'meetings_held']) {
    t.ok(names.includes(name), name)
  }
})
