import t from 'tap'
import { bearer, build, expectProblem } from '../../../helper.js'
import { makeCityWithKey, makeKey } from '../../../factories.js'
import { createIncident, report } from '../incidents/fixtures.js'

const { app, database } = await build(t)
const db = database.db

const records = (key?: string) => app.inject({ method: 'GET', url: '/v1/exports/incidents', headers: key === undefined ? {} : bearer(key) })
const schema = (key?: string) => app.inject({ method: 'GET', url: '/v1/exports/incidents/schema', headers: key === undefined ? {} : bearer(key) })

t.test('without a key every export answers 401', async (t) => {
  expectProblem(t, await records(), 401, 'unauthorized', 'records')
  expectProblem(t, await schema(), 401, 'unauthorized', 'schema')
})

t.test('exports:read does not grant the row-level records: 403; exports:read_records and admin do', async (t) => {
  const city = await makeCityWithKey(db)
  await createIncident(app, city.key, report())
  const analyst = await makeKey(db, city.id, ['exports:read', 'incidents:read', 'kpis:read'])
  const partner = await makeKey(db, city.id, ['exports:read_records'])
  const personal = await makeKey(db, city.id, ['incidents:read_personal', 'incidents:read'])
  const refused = await records(analyst.key)
  expectProblem(t, refused, 403, 'forbidden', 'exports:read')
  t.match(refused.json().detail, /exports:read_records/)
  expectProblem(t, await records(personal.key), 403, 'forbidden', 'incidents:read_personal does not grant exports either')
  for (const [who, key] of [['exports:read_records', partner.key], ['admin', city.key]] as const) {
    const res = await records(key)
    t.equal(res.statusCode, 200, who)
    t.equal(res.body.trim().split('\r\n').length, 2, `${who}: the header and the one incident`)
  }
})

t.test('the Table Schema describes columns, not data: any valid key reads it', async (t) => {
  const city = await makeCityWithKey(db)
  for (const scopes of [['exports:read'], ['exports:read_records'], ['incidents:read']] as const) {
    const key = await makeKey(db, city.id, [...scopes])
    t.equal((await schema(key.key)).statusCode, 200, scopes.join(', '))
  }
  t.equal((await schema(city.key)).statusCode, 200, 'admin')
})
