import t from 'tap'
import { bearer, build, expectProblem } from '../../../helper.js'
import { makeCity, makeKey } from '../../../factories.js'
import { auditActions, createIncident, getIncident, personalReport } from './fixtures.js'

const { app, database } = await build(t)
const db = database.db

const ERASED = 'incident.personal_data_erased'

/** A city with an incident holding personal data, an admin to read the audit trail and a personal-data reader to check it. */
async function cityWithIncident (): Promise<{ cityId: string, admin: string, personal: string, incident: Record<string, any>, marker: string }> {
  const city = await makeCity(db)
  const writer = await makeKey(db, city.id, ['incidents:write', 'incidents:read', 'incidents:case'])
  const sent = personalReport()
  const incident = await createIncident(app, writer.key, sent)
  return {
    cityId: city.id,
    admin: (await makeKey(db, city.id, ['admin'])).key,
    personal: (await makeKey(db, city.id, ['incidents:read', 'incidents:read_personal'])).key,
    incident,
    marker: sent.marker
  }
}

const erase = async (key: string, id: string) => await app.inject({ method: 'DELETE', url: `/v1/incidents/${id}/personal-data`, headers: bearer(key) })

t.test('erasing personal data without incidents:read_personal is a 403 forbidden, and the personal data stays', async (t) => {
  const city = await cityWithIncident()
  const id = city.incident.id as string
  const withoutSteward: Array<[string, Parameters<typeof makeKey>[2]]> = [
    ['incidents:write and incidents:read', ['incidents:write', 'incidents:read', 'incidents:case']],
    ['admin (which does not imply a personal-data scope)', ['admin']],
    ['admin, incidents:write and incidents:read', ['admin', 'incidents:write', 'incidents:read', 'incidents:case']]
  ]
  for (const [what, scopes] of withoutSteward) {
    const key = await makeKey(db, city.cityId, scopes)
    const res = await erase(key.key, id)
    expectProblem(t, res, 403, 'forbidden', what)
    t.match(res.json().detail, /incidents:read_personal/, `${what}: the problem names the missing scope`)
    t.notOk(res.json().detail.includes('incidents:write'), `${what}: and not one the key holds`)
  }

  const reader = await makeKey(db, city.cityId, ['incidents:read', 'incidents:read_personal'])
  const readerOnly = await erase(reader.key, id)
  expectProblem(t, readerOnly, 403, 'forbidden', 'incidents:read_personal without incidents:write')
  t.match(readerOnly.json().detail, /incidents:write/, 'the problem names incidents:write')

  const after = await getIncident(app, city.personal, id)
  t.equal(after.statusCode, 200)
  t.equal(after.json().personal_data, 'held', 'the personal data is still held')
  t.match(after.json().narrative, city.marker, 'and still readable by the personal-data reader')
  t.equal(after.json().version, city.incident.version, 'the incident is unchanged')
  t.notOk((await auditActions(db, city.cityId, id)).some((e) => e.action === ERASED), 'no erasure is recorded')
})

t.test('a key with incidents:write and incidents:read_personal erases the personal data (204), and the erasure is audited', async (t) => {
  const city = await cityWithIncident()
  const id = city.incident.id as string
  const steward = await makeKey(db, city.cityId, ['incidents:write', 'incidents:read_personal'])
  const res = await erase(steward.key, id)
  t.equal(res.statusCode, 204)
  t.equal(res.body, '')

  const after = await getIncident(app, city.personal, id)
  t.equal(after.statusCode, 200, 'the de-identified record stays')
  t.equal(after.json().personal_data, 'erased')
  t.notOk(after.body.includes(city.marker), 'nothing of the personal data is shown, even to the personal-data reader')

  const trail = await app.inject({ method: 'GET', url: `/v1/audit-events?object_id=${id}&action=${ERASED}`, headers: bearer(city.admin) })
  t.equal(trail.statusCode, 200)
  const events = trail.json().data as Array<Record<string, unknown>>
  t.equal(events.length, 1, 'one erasure event')
  t.match(events[0], { action: ERASED, object_type: 'incident', object_id: id, actor_type: 'api_key', actor_key_id: steward.id, request_id: res.headers['x-request-id'] },
    'it names the incident, the steward\'s key and the request')
})

t.test('the OpenAPI document says the erasure needs both scopes', async (t) => {
  const document = app.swagger() as { paths: Record<string, Record<string, { security?: Array<Record<string, string[]>> }>> }
  const security = document.paths['/v1/incidents/{id}/personal-data']?.delete?.security
  t.same(security?.map((s) => [...(s.bearer ?? [])].sort()), [['incidents:read_personal', 'incidents:write']])
})
