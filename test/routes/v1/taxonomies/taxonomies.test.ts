import t from 'tap'
import { bearer, build } from '../../../helper.js'
import { makeCityWithKey } from '../../../factories.js'
import { postBatch, report } from '../incidents/fixtures.js'

const { app, database } = await build(t)
const db = database.db

type Code = { code: string }

t.test('GET /v1/taxonomies/* answer the version and the codes the API checks', async (t) => {
  const city = await makeCityWithKey(db, ['kpis:read'])
  const bias = await app.inject({ method: 'GET', url: '/v1/taxonomies/bias-motivations', headers: bearer(city.key) })
  t.equal(bias.statusCode, 200)
  const b = bias.json()
  t.equal(b.taxonomy, 'bias-motivations')
  t.match(b.version, /\S/)
  t.equal(b.codes.length, 36, '36 bias motivation codes')
  t.equal(new Set(b.codes.map((c: { code: string }) => c.code)).size, 36, 'no code twice')
  t.same(b.rules.exclusive_codes, ['88', '99'], '88 and 99 are exclusive')
  t.equal(b.rules.max_per_offense, 5)
  t.equal(b.rules.no_duplicates, true)
  t.ok(b.codes.every((c: { category?: string }) => typeof c.category === 'string' && c.category in b.categories), 'every code has a listed category')
  t.match(b.codes.find((c: { code: string }) => c.code === '14'), { label: 'Anti-Asian', category: 'race_ethnicity_ancestry' })

  const offense = await app.inject({ method: 'GET', url: '/v1/taxonomies/offense-types', headers: bearer(city.key) })
  t.equal(offense.statusCode, 200)
  t.equal(offense.json().taxonomy, 'offense-types')
  t.match(offense.json().version, /\S/)
  t.ok(offense.json().codes.some((c: { code: string }) => c.code === '13B'), 'simple assault (13B) is listed')

  const location = await app.inject({ method: 'GET', url: '/v1/taxonomies/location-types', headers: bearer(city.key) })
  t.equal(location.statusCode, 200)
  t.equal(location.json().taxonomy, 'location-types')
  t.match(location.json().version, /\S/)
  t.match(location.json().codes.find((c: { code: string }) => c.code === '58'), { code: '58', label: /cyberspace/i })
  t.ok(location.json().codes.some((c: { code: string }) => c.code === '57'), 'community center (57) is listed')
})

t.test('GET /v1/taxonomies/* need a key: 401 without one', async (t) => {
  for (const path of ['bias-motivations', 'offense-types', 'location-types']) {
    const res = await app.inject({ method: 'GET', url: `/v1/taxonomies/${path}` })
    t.equal(res.statusCode, 401, path)
  }
})

t.test('every code the taxonomies publish is accepted in a report, so forms built from them never fail', async (t) => {
  const city = await makeCityWithKey(db, ['incidents:write', 'incidents:read', 'incidents:case'])
  const get = async (path: string): Promise<string[]> =>
    (await app.inject({ method: 'GET', url: `/v1/taxonomies/${path}`, headers: bearer(city.key) })).json().codes.map((c: Code) => c.code)
  const bias = await get('bias-motivations')
  const offenses = await get('offense-types')
  const locations = await get('location-types')
  const items = [
    ...bias.map((code) => report({ external_id: `bias-${code}`, bias_motivations: [code] })),
    ...offenses.map((code) => report({ external_id: `offense-${code}`, incident_type: 'hate_crime', offense_types: [code] })),
    ...locations.map((code) => report({ external_id: `location-${code}`, location: { location_type: code } }))
  ]
  const res = await postBatch(app, city.key, items)
  t.equal(res.statusCode, 200)
  t.same(res.json().summary, { created: items.length, updated: 0, unchanged: 0, accepted: 0, rejected: 0 })
})
