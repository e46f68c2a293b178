import { sql } from 'drizzle-orm'
import t from 'tap'
import { bearer, build } from '../../../helper.js'
import { makeCityWithKey, makeKey } from '../../../factories.js'

const { app, database } = await build(t)
const db = database.db

t.test('GET /v1/city answers the key\'s own city with an ETag', async (t) => {
  const city = await makeCityWithKey(db, ['incidents:read'])
  const res = await app.inject({ method: 'GET', url: '/v1/city', headers: bearer(city.key) })
  t.equal(res.statusCode, 200)
  const body = res.json()
  t.equal(body.id, city.id)
  t.equal(body.slug, city.slug)
  t.equal(body.small_cell_threshold, 10)
  t.match(res.headers.etag, /^"[0-9a-f]{12}-1"$/)
  t.ok(res.headers['x-request-id'])
})

t.test('GET /v1/city and PATCH /v1/city answer the same city, to the millisecond, from a value held to the microsecond', async (t) => {
  const city = await makeCityWithKey(db)
  await db.execute(sql`UPDATE cities SET created_at = '2024-05-01 10:20:30.123789+00' WHERE id = ${city.id}`)
  const read = await app.inject({ method: 'GET', url: '/v1/city', headers: bearer(city.key) })
  t.equal(read.json().created_at, '2024-05-01T10:20:30.123Z', 'UTC, milliseconds, as toISOString writes it')
  t.same(Object.keys(read.json()).sort(), ['created_at', 'default_language', 'id', 'languages', 'name', 'population', 'slug', 'small_cell_threshold', 'state', 'timezone', 'updated_at'], 'the documented members, nothing else')
  const patched = await app.inject({ method: 'PATCH', url: '/v1/city', headers: { ...bearer(city.key), 'if-match': read.headers.etag as string }, payload: { languages: ['en', 'es'], state: 'OR' } })
  t.equal(patched.statusCode, 200)
  const again = await app.inject({ method: 'GET', url: '/v1/city', headers: bearer(city.key) })
  t.same(again.json(), patched.json(), 'the read answers what the write answered')
  t.equal(again.headers.etag, patched.headers.etag)
  t.same(again.json().languages, ['en', 'es'])
  t.equal(again.json().created_at, '2024-05-01T10:20:30.123Z')
})

t.test('PATCH /v1/city needs If-Match: missing is 428, stale is 412, current applies and bumps the ETag', async (t) => {
  const city = await makeCityWithKey(db)
  const read = await app.inject({ method: 'GET', url: '/v1/city', headers: bearer(city.key) })
  const etag = read.headers.etag as string

  const missing = await app.inject({ method: 'PATCH', url: '/v1/city', headers: bearer(city.key), payload: { population: 140000 } })
  t.equal(missing.statusCode, 428)
  t.equal(missing.headers['content-type'], 'application/problem+json; charset=utf-8')
  t.equal(missing.json().code, 'precondition_required')

  const ok = await app.inject({ method: 'PATCH', url: '/v1/city', headers: { ...bearer(city.key), 'if-match': etag }, payload: { population: 140000, timezone: 'America/Chicago' } })
  t.equal(ok.statusCode, 200)
  t.equal(ok.json().population, 140000)
  t.equal(ok.json().timezone, 'America/Chicago')
  t.not(ok.headers.etag, etag)

  const stale = await app.inject({ method: 'PATCH', url: '/v1/city', headers: { ...bearer(city.key), 'if-match': etag }, payload: { population: 1 } })
  t.equal(stale.statusCode, 412)
  t.equal(stale.json().code, 'precondition_failed')
  const after = await app.inject({ method: 'GET', url: '/v1/city', headers: bearer(city.key) })
  t.equal(after.json().population, 140000, 'the stale write changed nothing')
})

t.test('PATCH /v1/city refuses unknown timezones, unknown fields and a default language outside the list', async (t) => {
  const city = await makeCityWithKey(db)
  const etag = (await app.inject({ method: 'GET', url: '/v1/city', headers: bearer(city.key) })).headers.etag as string
  const h = { ...bearer(city.key), 'if-match': etag }
  const tz = await app.inject({ method: 'PATCH', url: '/v1/city', headers: h, payload: { timezone: 'Mars/Olympus' } })
  t.equal(tz.statusCode, 400)
  t.same(tz.json().errors, [{ path: '/body/timezone', message: 'is not an IANA timezone' }])
  const unknown = await app.inject({ method: 'PATCH', url: '/v1/city', headers: h, payload: { slug: 'other' } })
  t.equal(unknown.statusCode, 400)
  t.same(unknown.json().errors, [{ path: '/body/slug', message: 'is not a known field' }])
  const lang = await app.inject({ method: 'PATCH', url: '/v1/city', headers: h, payload: { languages: ['es'] } })
  t.equal(lang.statusCode, 400)
  t.equal(lang.json().errors[0].path, '/body/languages')
  const same = await app.inject({ method: 'GET', url: '/v1/city', headers: bearer(city.key) })
  t.equal(same.headers.etag, etag, 'nothing was changed by refused patches')
})

t.test('PATCH /v1/city needs admin; a read scope is 403', async (t) => {
  const city = await makeCityWithKey(db, ['incidents:read'])
  const res = await app.inject({ method: 'PATCH', url: '/v1/city', headers: { ...bearer(city.key), 'if-match': '*' }, payload: { population: 1 } })
  t.equal(res.statusCode, 403)
  t.match(res.json().detail, /admin/)
})

t.test('PATCH /v1/city writes an audit event naming the changed fields', async (t) => {
  const city = await makeCityWithKey(db)
  await app.inject({ method: 'PATCH', url: '/v1/city', headers: { ...bearer(city.key), 'if-match': '*' }, payload: { name: 'Stamford' } })
  const admin = await makeKey(db, city.id, ['admin'])
  const events = await app.inject({ method: 'GET', url: '/v1/audit-events?object_type=city', headers: bearer(admin.key) })
  t.equal(events.statusCode, 200)
  t.equal(events.json().data.length, 1)
  t.equal(events.json().data[0].action, 'city.updated')
  t.same(events.json().data[0].details, { fields: ['name'] })
  t.equal(events.json().data[0].actor_key_id, city.keyId)
})

t.test('a changed timezone applies to the next write at once, though writes keep the city\'s settings with the key', async (t) => {
  const city = await makeCityWithKey(db, ['admin', 'incidents:write', 'incidents:read', 'incidents:case'])
  const report = { source: 'resident-portal', incident_type: 'bias_incident', bias_motivations: ['14'], occurred_at: '2024-06-01T03:30:00Z' }
  const before = await app.inject({ method: 'POST', url: '/v1/incidents', headers: bearer(city.key), payload: report })
  t.equal(before.json().occurred_on, '2024-05-31', 'in New York it was still the evening before')
  const etag = (await app.inject({ method: 'GET', url: '/v1/city', headers: bearer(city.key) })).headers.etag as string
  const patched = await app.inject({ method: 'PATCH', url: '/v1/city', headers: { ...bearer(city.key), 'if-match': etag }, payload: { timezone: 'Europe/Berlin' } })
  t.equal(patched.statusCode, 200)
  const after = await app.inject({ method: 'POST', url: '/v1/incidents', headers: bearer(city.key), payload: report })
  t.equal(after.json().occurred_on, '2024-06-01', 'in Berlin it was already morning')
})
