import { randomUUID } from 'node:crypto'
import type { LightMyRequestResponse } from 'fastify'
import t from 'tap'
import { bearer, build } from '../../../helper.js'
import { makeCityWithKey, makeKey } from '../../../factories.js'
import { createIncident, etagOf, getIncident, incidentCount, postBatch, postIncident, report } from './fixtures.js'

const { app, database } = await build(t)
const db = database.db
const WRITER = ['incidents:write', 'incidents:read', 'incidents:case'] as const

type Op = { method: 'GET' | 'POST' | 'PATCH' | 'DELETE', url: string, payload?: unknown, headers?: Record<string, string> }
const operations = (id: string): Op[] => [
  { method: 'POST', url: '/v1/incidents', payload: report() },
  { method: 'POST', url: '/v1/incidents/batch', payload: [report()] },
  { method: 'GET', url: '/v1/incidents' },
  { method: 'GET', url: `/v1/incidents/${id}` },
  { method: 'PATCH', url: `/v1/incidents/${id}`, payload: { summary: 'x' }, headers: { 'if-match': '*' } },
  { method: 'GET', url: `/v1/incidents/${id}/possible-duplicates` },
  { method: 'DELETE', url: `/v1/incidents/${id}/personal-data` }
]
const needs = (op: Op): string => op.method === 'GET' ? 'incidents:read' : 'incidents:write'

/** A 404 answer without the parts that differ per request. */
const comparable = (res: LightMyRequestResponse): Record<string, unknown> => {
  const { instance: _instance, request_id: _requestId, ...rest } = res.json()
  return { status: res.statusCode, ...rest }
}

t.test('every incidents operation answers 401 without a key, and writes nothing', async (t) => {
  const city = await makeCityWithKey(db, [...WRITER])
  const incident = await createIncident(app, city.key)
  for (const op of operations(incident.id)) {
    const res = await app.inject({ method: op.method, url: op.url, payload: op.payload as never, headers: op.headers ?? {} })
    t.equal(res.statusCode, 401, `${op.method} ${op.url}`)
    t.equal(res.json().code, 'unauthorized')
  }
  t.equal(await incidentCount(db, city.id), 1)
  t.equal((await getIncident(app, city.key, incident.id)).json().version, 1, 'nothing was changed')
})

t.test('a key without the needed scope is 403: incidents:read cannot write, a key without incidents:read cannot read', async (t) => {
  const city = await makeCityWithKey(db, [...WRITER])
  const incident = await createIncident(app, city.key)
  const reader = await makeKey(db, city.id, ['incidents:read'])
  const unrelated = await makeKey(db, city.id, ['kpis:read', 'plans:write'])
  const personalOnly = await makeKey(db, city.id, ['incidents:read_personal'])
  for (const op of operations(incident.id)) {
    for (const [who, key] of [['incidents:read', reader.key], ['kpis:read+plans:write', unrelated.key]] as const) {
      if (who === 'incidents:read' && needs(op) === 'incidents:read') continue
      const res = await app.inject({ method: op.method, url: op.url, payload: op.payload as never, headers: { ...bearer(key), ...(op.headers ?? {}) } })
      t.equal(res.statusCode, 403, `${who}: ${op.method} ${op.url}`)
      t.equal(res.json().code, 'forbidden')
    }
  }
  const onlyPersonal = await getIncident(app, personalOnly.key, incident.id)
  t.equal(onlyPersonal.statusCode, 403, 'incidents:read_personal alone does not grant incidents:read')
  t.equal(await incidentCount(db, city.id), 1, 'nothing was created')
  t.equal((await getIncident(app, city.key, incident.id)).json().version, 1, 'nothing was changed')
})

t.test('another city\'s incident answers 404 on GET, PATCH, possible-duplicates and DELETE personal-data, exactly like a random id', async (t) => {
  const mine = await makeCityWithKey(db, ['admin', 'incidents:read_personal'])
  const theirs = await makeCityWithKey(db, [...WRITER])
  const foreign = await createIncident(app, theirs.key, report())
  const probes = (id: string): Op[] => [
    { method: 'GET', url: `/v1/incidents/${id}` },
    { method: 'PATCH', url: `/v1/incidents/${id}`, payload: { summary: 'taken over' }, headers: { 'if-match': '*' } },
    { method: 'GET', url: `/v1/incidents/${id}/possible-duplicates` },
    { method: 'DELETE', url: `/v1/incidents/${id}/personal-data` }
  ]
  const random = probes(randomUUID())
  for (const [i, op] of probes(foreign.id).entries()) {
    const res = await app.inject({ method: op.method, url: op.url, payload: op.payload as never, headers: { ...bearer(mine.key), ...(op.headers ?? {}) } })
    t.equal(res.statusCode, 404, `${op.method} ${op.url}`)
    const other = random[i] as Op
    const missing = await app.inject({ method: other.method, url: other.url, payload: other.payload as never, headers: { ...bearer(mine.key), ...(other.headers ?? {}) } })
    t.same(comparable(res), comparable(missing), `${op.method}: the same answer as a random id`)
  }
  const after = (await getIncident(app, theirs.key, foreign.id)).json()
  t.equal(after.version, 1, 'the other city\'s incident is untouched')
  t.equal(after.personal_data, 'held', 'its personal data was not erased')
  const list = await app.inject({ method: 'GET', url: '/v1/incidents', headers: bearer(mine.key) })
  t.same(list.json().data, [], 'another city\'s incidents are not listed')
})

t.test('a batch from one city cannot update another city\'s incident with the same (source, external_id)', async (t) => {
  const a = await makeCityWithKey(db, [...WRITER])
  const b = await makeCityWithKey(db, [...WRITER])
  const sent = report({ summary: 'City A.' })
  const original = await createIncident(app, a.key, sent)
  const res = await postBatch(app, b.key, [{ ...sent, summary: 'City B.' }])
  t.equal(res.json().items[0].outcome, 'created', 'it is a new incident in city B')
  t.not(res.json().items[0].id, original.id)
  t.equal((await getIncident(app, a.key, original.id)).json().summary, 'City A.')
})

t.test('a key limited to its sources writes and reads only those sources\' incidents', async (t) => {
  const city = await makeCityWithKey(db, [...WRITER])
  const ngoA = await makeKey(db, city.id, ['incidents:write', 'incidents:read'], { sources: ['ngo-a'] })
  const own = await createIncident(app, ngoA.key, report({ source: 'ngo-a' }))
  const others = await createIncident(app, city.key, report({ source: 'ngo-b' }))

  const post = await postIncident(app, ngoA.key, report({ source: 'ngo-b' }))
  t.equal(post.statusCode, 403, 'POST naming another source')
  t.equal(post.json().code, 'forbidden')

  const batch = await postBatch(app, ngoA.key, [report({ source: 'ngo-a' }), report({ source: 'ngo-b' })])
  t.same(batch.json().items.map((i: { outcome: string }) => i.outcome), ['created', 'rejected'])
  t.same(batch.json().items[1].problems.map((p: { path: string }) => p.path), ['/body/1/source'])
  const hijack = await postBatch(app, ngoA.key, [{ ...report({ source: 'ngo-b' }), external_id: others.external_id }])
  t.equal(hijack.json().items[0].outcome, 'rejected', 'it cannot overwrite another source\'s record')

  const get = await getIncident(app, ngoA.key, others.id)
  t.equal(get.statusCode, 404, 'another source\'s incident is not found')
  const patch = await app.inject({ method: 'PATCH', url: `/v1/incidents/${others.id as string}`, headers: { ...bearer(ngoA.key), 'if-match': '*' }, payload: { summary: 'x' } })
  t.equal(patch.statusCode, 404)
  const ngoSteward = await makeKey(db, city.id, ['incidents:write', 'incidents:read_personal'], { sources: ['ngo-a'] })
  const erase = await app.inject({ method: 'DELETE', url: `/v1/incidents/${others.id as string}/personal-data`, headers: bearer(ngoSteward.key) })
  t.equal(erase.statusCode, 404)
  t.equal((await getIncident(app, ngoA.key, own.id)).statusCode, 200, 'its own incident is found')

  const list = await app.inject({ method: 'GET', url: '/v1/incidents', headers: bearer(ngoA.key) })
  const sources = list.json().data.map((i: { source: string }) => i.source)
  t.equal(sources.length, 2)
  t.ok(sources.every((s: string) => s === 'ngo-a'), 'the list shows only ngo-a incidents')
  const filtered = await app.inject({ method: 'GET', url: '/v1/incidents?source=ngo-b', headers: bearer(ngoA.key) })
  t.same(filtered.json().data, [], 'asking for another source finds nothing')
  t.equal(await incidentCount(db, city.id), 3)
})

t.test('a source-limited key cannot mark its incident a duplicate of another source\'s incident it cannot see', async (t) => {
  const city = await makeCityWithKey(db, [...WRITER])
  const ngoA = await makeKey(db, city.id, ['incidents:write', 'incidents:read', 'incidents:case'], { sources: ['ngo-a'] })
  const own = await createIncident(app, ngoA.key, report({ source: 'ngo-a' }))
  const hidden = await createIncident(app, city.key, report({ source: 'ngo-b' }))
  await app.inject({ method: 'PATCH', url: `/v1/incidents/${own.id as string}`, headers: { ...bearer(ngoA.key), 'if-match': await etagOf(app, ngoA.key, own.id) }, payload: { status: 'under_review' } })
  const res = await app.inject({ method: 'PATCH', url: `/v1/incidents/${own.id as string}`, headers: { ...bearer(ngoA.key), 'if-match': await etagOf(app, ngoA.key, own.id) }, payload: { status: 'duplicate', duplicate_of: hidden.id } })
  t.equal(res.statusCode, 400)
})

t.test('a source-limited key never sees the id of another source\'s incident its report was marked a duplicate of', async (t) => {
  const city = await makeCityWithKey(db, [...WRITER])
  const ngoA = await makeKey(db, city.id, ['incidents:write', 'incidents:read', 'incidents:case'], { sources: ['ngo-a'] })
  const own = await createIncident(app, ngoA.key, report({ source: 'ngo-a' }))
  const hidden = await createIncident(app, city.key, report({ source: 'ngo-b' }))
  const patch = async (key: string, payload: Record<string, unknown>): Promise<LightMyRequestResponse> =>
    await app.inject({ method: 'PATCH', url: `/v1/incidents/${own.id as string}`, headers: { ...bearer(key), 'if-match': await etagOf(app, key, own.id) }, payload })
  t.equal((await patch(city.key, { status: 'under_review' })).statusCode, 200)
  const marked = await patch(city.key, { status: 'duplicate', duplicate_of: hidden.id })
  t.equal(marked.json().duplicate_of, hidden.id, 'the city sees what the report repeats')

  t.equal((await getIncident(app, ngoA.key, own.id)).json().duplicate_of, null, 'read alone')
  for (const order of ['occurred_desc', 'updated_asc']) {
    const list = await app.inject({ method: 'GET', url: `/v1/incidents?order=${order}`, headers: bearer(ngoA.key) })
    t.same(list.json().data.map((i: { id: string, duplicate_of: unknown }) => [i.id, i.duplicate_of]), [[own.id, null]], `listed (${order})`)
  }
  const changed = await patch(ngoA.key, { summary: 'Flyers found again near the library' })
  t.equal(changed.statusCode, 200, changed.body)
  t.equal(changed.json().duplicate_of, null, 'answered after its own change')
  t.equal((await getIncident(app, city.key, own.id)).json().duplicate_of, hidden.id, 'and its change kept the mark it could not see')

  const other = await createIncident(app, city.key, report({ source: 'ngo-b' }))
  const [right, wrong] = [await patch(ngoA.key, { duplicate_of: hidden.id }), await patch(ngoA.key, { duplicate_of: other.id })]
  const { instance: _i1, request_id: _r1, ...rightBody } = right.json()
  const { instance: _i2, request_id: _r2, ...wrongBody } = wrong.json()
  t.same([right.statusCode, rightBody], [wrong.statusCode, wrongBody], 'naming the hidden mark again is answered as naming any report it cannot see')
  t.equal(right.statusCode, 400)
})

t.test('a cursor issued to another city is a 400, as is a tampered one', async (t) => {
  const a = await makeCityWithKey(db, [...WRITER])
  const b = await makeCityWithKey(db, [...WRITER])
  for (let i = 0; i < 3; i++) await createIncident(app, a.key)
  await createIncident(app, b.key)
  const page = await app.inject({ method: 'GET', url: '/v1/incidents?limit=1', headers: bearer(a.key) })
  const cursor = page.json().next_cursor as string
  t.type(cursor, 'string')
  const foreign = await app.inject({ method: 'GET', url: `/v1/incidents?limit=1&cursor=${encodeURIComponent(cursor)}`, headers: bearer(b.key) })
  t.equal(foreign.statusCode, 400)
  t.equal(foreign.json().code, 'invalid_cursor')
  const tampered = `${cursor.slice(0, -2)}${cursor.endsWith('A') ? 'BB' : 'AA'}`
  const bad = await app.inject({ method: 'GET', url: `/v1/incidents?limit=1&cursor=${encodeURIComponent(tampered)}`, headers: bearer(a.key) })
  t.equal(bad.statusCode, 400)
  const otherOrder = await app.inject({ method: 'GET', url: `/v1/incidents?limit=1&order=updated_asc&cursor=${encodeURIComponent(cursor)}`, headers: bearer(a.key) })
  t.equal(otherOrder.statusCode, 400, 'a cursor of one order is not valid for the other')
})
