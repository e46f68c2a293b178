import { randomUUID } from 'node:crypto'
import t from 'tap'
import { bearer, build, comparableProblem } from '../../../helper.js'
import { makeCityWithKey, makeKey } from '../../../factories.js'
import { createKpi, kpi } from './fixtures.js'

const { app, database } = await build(t)
const db = database.db

type Op = { method: 'GET' | 'POST' | 'PATCH' | 'PUT' | 'DELETE', url: string, payload?: unknown, headers?: Record<string, string>, write: boolean }
const operations = (id: string): Op[] => [
  { method: 'POST', url: '/v1/kpis', payload: kpi(), write: true },
  { method: 'GET', url: '/v1/kpis', write: false },
  { method: 'GET', url: '/v1/kpis/summary', write: false },
  { method: 'GET', url: '/v1/kpis/metrics', write: false },
  { method: 'GET', url: `/v1/kpis/${id}`, write: false },
  { method: 'GET', url: `/v1/kpis/${id}/series?from=2025-01&to=2025-03`, write: false },
  { method: 'PATCH', url: `/v1/kpis/${id}`, payload: { direction: 'increase' }, headers: { 'if-match': '*' }, write: true },
  { method: 'PUT', url: `/v1/kpis/${id}/measurements/2025-01`, payload: { value: 3 }, write: true },
  { method: 'DELETE', url: `/v1/kpis/${id}`, write: true }
]
const inject = async (op: Op, key?: string) =>
  await app.inject({ method: op.method, url: op.url, payload: op.payload as never, headers: { ...(key !== undefined ? bearer(key) : {}), ...(op.headers ?? {}) } })

t.test('every KPI operation answers 401 without a key', async (t) => {
  const city = await makeCityWithKey(db, ['kpis:write', 'kpis:read'])
  const created = await createKpi(app, city.key, kpi({ method: 'manual', metric: undefined }))
  for (const op of operations(created.id)) {
    const res = await inject(op)
    t.equal(res.statusCode, 401, `${op.method} ${op.url}`)
  }
  t.equal((await app.inject({ method: 'GET', url: `/v1/kpis/${created.id}`, headers: bearer(city.key) })).json().version, 1)
})

t.test('kpis:read reads but cannot write; other scopes can do neither', async (t) => {
  const city = await makeCityWithKey(db, ['kpis:write', 'kpis:read'])
  const created = await createKpi(app, city.key, kpi({ method: 'manual', metric: undefined }))
  const reader = await makeKey(db, city.id, ['kpis:read'])
  const unrelated = await makeKey(db, city.id, ['incidents:read', 'exports:read', 'plans:write'])
  for (const op of operations(created.id)) {
    const res = await inject(op, reader.key)
    t.equal(res.statusCode, op.write ? 403 : 200, `kpis:read: ${op.method} ${op.url}`)
    t.equal((await inject(op, unrelated.key)).statusCode, 403, `other scopes: ${op.method} ${op.url}`)
  }
  const read = await app.inject({ method: 'GET', url: `/v1/kpis/${created.id}`, headers: bearer(city.key) })
  t.equal(read.json().version, 1)
})

t.test('another city\'s KPI answers 404 everywhere, exactly like a random id, is not listed and is not changed', async (t) => {
  const theirs = await makeCityWithKey(db, ['kpis:write', 'kpis:read'])
  const mine = await makeCityWithKey(db, ['admin'])
  const foreign = await createKpi(app, theirs.key, kpi({ code: 'shared-code', method: 'manual', metric: undefined }))
  const probes = (id: string): Op[] => operations(id).filter((op) => op.url.includes(id))
  const random = probes(randomUUID())
  for (const [i, op] of probes(foreign.id).entries()) {
    const res = await inject(op, mine.key)
    t.equal(res.statusCode, 404, `${op.method} ${op.url}`)
    const other = await inject(random[i] as Op, mine.key)
    t.same(comparableProblem(res), comparableProblem(other), 'the same answer as a random id')
  }
  t.same((await app.inject({ method: 'GET', url: '/v1/kpis', headers: bearer(mine.key) })).json().data, [])
  t.same((await app.inject({ method: 'GET', url: '/v1/kpis/summary', headers: bearer(mine.key) })).json().data, [])
  // Codes are unique per city, not across cities.
  t.equal((await app.inject({ method: 'POST', url: '/v1/kpis', headers: bearer(mine.key), payload: kpi({ code: 'shared-code' }) })).statusCode, 201)
  const still = await app.inject({ method: 'GET', url: `/v1/kpis/${foreign.id}`, headers: bearer(theirs.key) })
  t.equal(still.json().version, 1)
  const values = await app.inject({ method: 'GET', url: `/v1/kpis/${foreign.id}/series?from=2025-01&to=2025-01`, headers: bearer(theirs.key) })
  t.equal(values.json().data[0].value, null, 'no value was written by the other city')
})

t.test('a series never counts another city\'s incidents', async (t) => {
  const { addIncidents, setCity } = await import('./fixtures.js')
  const theirs = await makeCityWithKey(db, ['kpis:write', 'kpis:read'])
  const mine = await makeCityWithKey(db, ['kpis:write', 'kpis:read'])
  await setCity(db, mine.id, { threshold: 1 })
  await addIncidents(db, theirs.id, [{ occurredOn: '2025-01-05', count: 14 }])
  await addIncidents(db, mine.id, [{ occurredOn: '2025-01-05', count: 2 }])
  const created = await createKpi(app, mine.key)
  const res = await app.inject({ method: 'GET', url: `/v1/kpis/${created.id}/series?from=2025-01&to=2025-01`, headers: bearer(mine.key) })
  t.equal(res.json().data[0].value, 2)
})
