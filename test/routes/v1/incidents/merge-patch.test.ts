import t from 'tap'
import { bearer, build } from '../../../helper.js'
import { makeCity, makeKey } from '../../../factories.js'
import { createIncident, etagOf, getIncident, personalReport } from './fixtures.js'

const { app, database } = await build(t)
const db = database.db

async function keys (): Promise<{ writer: string, personal: string, admin: string }> {
  const city = await makeCity(db)
  return {
    writer: (await makeKey(db, city.id, ['incidents:write', 'incidents:read', 'incidents:case'])).key,
    personal: (await makeKey(db, city.id, ['incidents:read', 'incidents:read_personal'])).key,
    admin: (await makeKey(db, city.id, ['admin'])).key
  }
}

async function mergePatch (key: string, url: string, etag: string, body: unknown, type = 'application/merge-patch+json') {
  return await app.inject({ method: 'PATCH', url, headers: { ...bearer(key), 'if-match': etag, 'content-type': type }, payload: JSON.stringify(body) })
}

t.test('a JSON Merge Patch removes one nested personal field and keeps the rest of the record and its personal data', async (t) => {
  const k = await keys()
  const { marker: _marker, ...sent } = personalReport()
  const incident = await createIncident(app, k.writer, sent)
  const url = `/v1/incidents/${incident.id as string}`

  const noAddress = await mergePatch(k.writer, url, await etagOf(app, k.writer, incident.id), { location: { address: null } })
  t.equal(noAddress.statusCode, 200)
  let stored = (await getIncident(app, k.personal, incident.id)).json()
  t.equal(stored.location.address, null, 'the wrong address is gone')
  t.equal(stored.location.neighborhood, 'Downtown', 'the rest of the location stays')
  t.equal(stored.location.coordinates_precision, 'exact', 'the exact coordinates stay')
  t.equal(stored.narrative, sent.narrative, 'the narrative stays')
  t.same(stored.reporter, sent.reporter, 'the reporter stays')

  const noCoordinates = await mergePatch(k.writer, url, await etagOf(app, k.writer, incident.id), { location: { latitude: null, longitude: null } })
  t.equal(noCoordinates.statusCode, 200)
  stored = (await getIncident(app, k.personal, incident.id)).json()
  t.equal(stored.location.coordinates_precision, 'none', 'the coordinates are gone, coarse ones included')
  t.equal(stored.location.latitude, null)
  t.equal(stored.narrative, sent.narrative, 'the narrative still stays')

  const onePart = await mergePatch(k.writer, url, await etagOf(app, k.writer, incident.id), { reporter: { phone: null } }, 'application/json')
  t.equal(onePart.statusCode, 200, 'plain JSON is read as a merge patch too')
  stored = (await getIncident(app, k.personal, incident.id)).json()
  const { phone: _phone, ...reporterWithoutPhone } = sent.reporter as Record<string, unknown>
  t.same(stored.reporter, reporterWithoutPhone, 'a member of a nested object is removed, the others kept')
  t.equal(stored.personal_data, 'held')
})

t.test('half a pair of coordinates is refused, and the refusal changes nothing', async (t) => {
  const k = await keys()
  const { marker: _marker, ...sent } = personalReport()
  const incident = await createIncident(app, k.writer, sent)
  const res = await mergePatch(k.writer, `/v1/incidents/${incident.id as string}`, await etagOf(app, k.writer, incident.id), { location: { latitude: null } })
  t.equal(res.statusCode, 400)
  t.same(res.json().errors.map((e: { path: string }) => e.path), ['/body/location/latitude'])
  t.equal((await getIncident(app, k.writer, incident.id)).json().version, incident.version, 'nothing changed')
})

t.test('the city takes merge patches too: null clears a nullable field, omitted fields stay', async (t) => {
  const k = await keys()
  const before = await app.inject({ method: 'GET', url: '/v1/city', headers: bearer(k.admin) })
  const res = await mergePatch(k.admin, '/v1/city', before.headers.etag as string, { population: null, name: 'Stamford' })
  t.equal(res.statusCode, 200)
  t.equal(res.json().population, null)
  t.equal(res.json().name, 'Stamford')
  t.equal(res.json().state, before.json().state, 'the state it did not name stays')
  t.not(res.headers.etag, before.headers.etag, 'a new ETag')
})

t.test('PATCH without If-Match is 428 and with a stale one 412, whatever the media type', async (t) => {
  const k = await keys()
  const incident = await createIncident(app, k.writer)
  const url = `/v1/incidents/${incident.id as string}`
  const missing = await app.inject({ method: 'PATCH', url, headers: { ...bearer(k.writer), 'content-type': 'application/merge-patch+json' }, payload: '{"summary":"x"}' })
  t.equal(missing.statusCode, 428)
  const etag = await etagOf(app, k.writer, incident.id)
  t.equal((await mergePatch(k.writer, url, etag, { summary: 'first' })).statusCode, 200)
  t.equal((await mergePatch(k.writer, url, etag, { summary: 'second' })).statusCode, 412, 'the old ETag is stale')
  t.equal((await getIncident(app, k.writer, incident.id)).json().summary, 'first')
})
