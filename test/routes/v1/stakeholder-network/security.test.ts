import { randomBytes } from 'node:crypto'
import t from 'tap'
import { makeCityWithKey, makeKey, makeStakeholder } from '../../../factories.js'
import { bearer, build, expectProblem } from '../../../helper.js'
import { makeMeeting, makeRelationship } from './fixtures.js'

const { app, database } = await build(t)
const db = database.db
const URL = '/v1/stakeholder-network/assessment'

t.test('GET /v1/stakeholder-network/assessment answers 401 with WWW-Authenticate: Bearer without a key, with a malformed header, with an unknown key', async (t) => {
  const city = await makeCityWithKey(db)
  const headers: Record<string, Record<string, string>> = {
    'no key': {},
    'a Basic header': { authorization: 'Basic dXNlcjpwYXNz' },
    'a bare key without the Bearer scheme': { authorization: city.key },
    'an unknown key': bearer(`coh_${randomBytes(24).toString('base64url')}`)
  }
  for (const [what, extra] of Object.entries(headers)) {
    const res = await app.inject({ method: 'GET', url: URL, headers: extra })
    expectProblem(t, res, 401, 'unauthorized', `with ${what}`)
    t.match(res.headers['www-authenticate'], /^Bearer\b/)
  }
})

t.test('a key without stakeholders:read is 403 naming the scope; stakeholders:read and admin may read', async (t) => {
  const city = await makeCityWithKey(db)
  for (const scopes of [['incidents:read', 'incidents:write'], ['stakeholders:read_contact'], ['plans:read', 'kpis:read']] as const) {
    const key = await makeKey(db, city.id, [...scopes])
    const res = await app.inject({ method: 'GET', url: URL, headers: bearer(key.key) })
    expectProblem(t, res, 403, 'forbidden', `a key with ${scopes.join(', ')}`)
    t.match(res.json().detail, /stakeholders:read\b/)
  }
  const reader = await makeKey(db, city.id, ['stakeholders:read'])
  t.equal((await app.inject({ method: 'GET', url: URL, headers: bearer(reader.key) })).statusCode, 200, 'stakeholders:read')
  t.equal((await app.inject({ method: 'GET', url: URL, headers: bearer(city.key) })).statusCode, 200, 'admin implies stakeholders:read')
})

t.test('a city\'s assessment counts only its own stakeholders, ties and meetings, and names no other city\'s', async (t) => {
  const a = await makeCityWithKey(db)
  const b = await makeCityWithKey(db)
  const police = await makeStakeholder(db, a.id, { name: 'Police of A', category: 'law_enforcement', engagementLevel: 'leading' })
  const group = await makeStakeholder(db, a.id, { name: 'Group of A', category: 'community_organization', engagementLevel: 'active' })
  const isolated = await makeStakeholder(db, a.id, { name: 'Isolated of A', category: 'media' })
  await makeRelationship(db, a.id, police.id, group.id, { strength: 5 })
  await makeMeeting(db, a.id, '2000-01-01', [police.id])

  const res = await app.inject({ method: 'GET', url: URL, headers: bearer(b.key) })
  t.equal(res.statusCode, 200)
  const body = res.json()
  t.equal(body.stakeholders, 0)
  t.equal(body.ties, 0)
  t.equal(body.isolated_stakeholders.count, 0)
  t.equal(body.components.count, 0)
  for (const id of [police.id, group.id, isolated.id]) t.notOk(res.body.includes(id), 'no id of city A in B\'s answer')
  t.notOk(res.body.includes('of A'), 'no name of city A in B\'s answer')

  const own = (await app.inject({ method: 'GET', url: URL, headers: bearer(a.key) })).json()
  t.equal(own.stakeholders, 3)
  t.equal(own.ties, 1)
})
