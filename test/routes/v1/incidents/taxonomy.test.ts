import type { LightMyRequestResponse } from 'fastify'
import t, { type Test } from 'tap'
import { bearer, build } from '../../../helper.js'
import { makeCityWithKey } from '../../../factories.js'
import { createIncident, incidentCount, postIncident, report } from './fixtures.js'

const { app, database } = await build(t)
const db = database.db

/** Asserts a 400 validation problem that names `path` among its errors. */
function assertInvalid (t: Test, res: LightMyRequestResponse, path: string, what: string): void {
  t.equal(res.statusCode, 400, `${what}: 400`)
  t.match(res.headers['content-type'], /^application\/problem\+json/, `${what}: problem+json`)
  const paths = (res.json().errors ?? []).map((e: { path: string }) => e.path)
  t.ok(paths.includes(path), `${what}: errors name ${path} (got ${JSON.stringify(paths)})`)
}

t.test('each NIBRS bias-motivation rule refuses the report with a 400 naming /body/bias_motivations, and stores nothing', async (t) => {
  const city = await makeCityWithKey(db, ['incidents:write', 'incidents:read', 'incidents:case'])
  const cases: Array<[string, unknown[], string]> = [
    ['no code', [], '/body/bias_motivations'],
    ['six codes', ['11', '12', '13', '14', '15', '16'], '/body/bias_motivations'],
    ['an unknown code', ['14', '19'], '/body/bias_motivations/1'],
    ['a duplicate code', ['14', '14'], '/body/bias_motivations'],
    ['88 with another code', ['88', '14'], '/body/bias_motivations'],
    ['99 with another code', ['21', '99'], '/body/bias_motivations']
  ]
  for (const [what, codes, path] of cases) {
    const res = await postIncident(app, city.key, report({ bias_motivations: codes }))
    assertInvalid(t, res, path, what)
  }
  t.equal(await incidentCount(db, city.id), 0, 'no refused report was stored')
})

t.test('88 (none) alone and 99 (unknown) alone are accepted, each with its own category', async (t) => {
  const city = await makeCityWithKey(db, ['incidents:write', 'incidents:read', 'incidents:case'])
  const none = await createIncident(app, city.key, report({ bias_motivations: ['88'] }))
  t.same(none.bias_motivations, ['88'])
  t.same(none.bias_categories, ['none'])
  const unknown = await createIncident(app, city.key, report({ bias_motivations: ['99'] }))
  t.same(unknown.bias_motivations, ['99'])
  t.same(unknown.bias_categories, ['unknown'])
  const five = await createIncident(app, city.key, report({ bias_motivations: ['11', '12', '13', '14', '15'] }))
  t.same(five.bias_motivations, ['11', '12', '13', '14', '15'], 'five codes is the most and is accepted')
})

t.test('bias_categories are derived from the codes, once each, and recorded with the taxonomy version', async (t) => {
  const city = await makeCityWithKey(db, ['incidents:write', 'incidents:read', 'incidents:case'])
  const created = await createIncident(app, city.key, report({ bias_motivations: ['14', '21', '12'] }))
  t.same(created.bias_categories, ['race_ethnicity_ancestry', 'religion'])
  const taxonomy = await app.inject({ method: 'GET', url: '/v1/taxonomies/bias-motivations', headers: bearer(city.key) })
  t.equal(created.taxonomy_version, taxonomy.json().version)
  const gender = await createIncident(app, city.key, report({ bias_motivations: ['41', '62', '71'] }))
  t.same(gender.bias_categories, ['sexual_orientation', 'gender', 'gender_identity'].filter((c) => gender.bias_categories.includes(c)))
  t.equal(gender.bias_categories.length, 3)
})

t.test('an unknown offense type is a 400 naming its path; known ones are stored', async (t) => {
  const city = await makeCityWithKey(db, ['incidents:write', 'incidents:read', 'incidents:case'])
  const res = await postIncident(app, city.key, report({ incident_type: 'hate_crime', offense_types: ['13B', '999'] }))
  assertInvalid(t, res, '/body/offense_types/1', 'unknown offense code')
  const ok = await createIncident(app, city.key, report({ incident_type: 'hate_crime', offense_types: ['13B', '290'] }))
  t.same(ok.offense_types, ['13B', '290'])
  t.equal(await incidentCount(db, city.id), 1)
})

t.test('an unknown location type is a 400 naming /body/location/location_type', async (t) => {
  const city = await makeCityWithKey(db, ['incidents:write', 'incidents:read'])
  const res = await postIncident(app, city.key, report({ location: { location_type: '99' } }))
  assertInvalid(t, res, '/body/location/location_type', 'unknown location code')
})

t.test('location type 58 (cyberspace) makes the incident online; 58 with online.is_online=false is a 400', async (t) => {
  const city = await makeCityWithKey(db, ['incidents:write', 'incidents:read', 'incidents:case'])
  const online = await createIncident(app, city.key, report({ location: { location_type: '58' } }))
  t.equal(online.online.is_online, true, 'is_online follows from cyberspace')
  const withPlatform = await createIncident(app, city.key, report({ location: { location_type: '58' }, online: { is_online: true, platform: 'Instagram' } }))
  t.same(withPlatform.online, { is_online: true, platform: 'Instagram' })
  const offline = await postIncident(app, city.key, report({ location: { location_type: '58' }, online: { is_online: false } }))
  assertInvalid(t, offline, '/body/online/is_online', '58 offline')
  const street = await createIncident(app, city.key, report({ location: { location_type: '13' } }))
  t.equal(street.online.is_online, false, 'other location types are not online by default')
})

t.test('exactly one of occurred_at and occurred_on: both or neither is a 400 naming /body/occurred_at', async (t) => {
  const city = await makeCityWithKey(db, ['incidents:write', 'incidents:read'])
  const both = await postIncident(app, city.key, report({ occurred_at: '2024-03-01T12:00:00Z', occurred_on: '2024-03-01' }))
  assertInvalid(t, both, '/body/occurred_at', 'both')
  const { occurred_on: _on, ...neither } = report()
  const none = await postIncident(app, city.key, neither)
  assertInvalid(t, none, '/body/occurred_at', 'neither')
  t.equal(await incidentCount(db, city.id), 0)
})

t.test('an occurred_at or occurred_on in the future is a 400 naming its path', async (t) => {
  const city = await makeCityWithKey(db, ['incidents:write', 'incidents:read'])
  const later = new Date(Date.now() + 2 * 3600_000).toISOString()
  const { occurred_on: _on, ...base } = report()
  assertInvalid(t, await postIncident(app, city.key, { ...base, occurred_at: later }), '/body/occurred_at', 'future occurred_at')
  const tomorrow = new Date(Date.now() + 3 * 86400_000).toISOString().slice(0, 10)
  assertInvalid(t, await postIncident(app, city.key, { ...base, occurred_on: tomorrow }), '/body/occurred_on', 'future occurred_on')
  t.equal(await incidentCount(db, city.id), 0)
})

t.test('occurred_at is turned into occurred_on in the city\'s timezone', async (t) => {
  const city = await makeCityWithKey(db, ['admin', 'incidents:write', 'incidents:read', 'incidents:case'])
  const patched = await app.inject({ method: 'PATCH', url: '/v1/city', headers: { ...bearer(city.key), 'if-match': '*' }, payload: { timezone: 'America/Los_Angeles' } })
  t.equal(patched.statusCode, 200)
  const { occurred_on: _on, ...base } = report()
  const created = await createIncident(app, city.key, { ...base, occurred_at: '2024-03-02T03:00:00Z' })
  t.equal(created.occurred_on, '2024-03-01', '03:00 UTC is still the evening before in Los Angeles')
  t.equal(created.occurred_at, '2024-03-02T03:00:00.000Z', 'the instant is kept')

  const other = await makeCityWithKey(db, ['incidents:write', 'incidents:read', 'incidents:case'])
  const eastern = await createIncident(app, other.key, { ...base, occurred_at: '2024-03-02T06:00:00Z' })
  t.equal(eastern.occurred_on, '2024-03-02', 'in the default America/New_York it is already the next day')
})
