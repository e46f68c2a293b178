import t from 'tap'
import { bearer, build } from '../../../helper.js'
import { makeCityWithKey } from '../../../factories.js'
import { getIncident, incidentCount, postBatch, postIncident, report, uniqueId } from './fixtures.js'

const { app, database } = await build(t)
const db = database.db
const WRITER = ['incidents:write', 'incidents:read', 'incidents:case'] as const

const batchOf = (n: number): Array<Record<string, unknown>> =>
  Array.from({ length: n }, (_, i) => report({ external_id: `imp-${i}`, bias_motivations: [i % 2 === 0 ? '14' : '21'], occurred_on: `2024-02-${String(1 + (i % 28)).padStart(2, '0')}` }))

type Item = { index: number, id: string | null, external_id: string | null, outcome: string, problems: Array<{ path: string, message: string }> }

t.test('the same batch of 50 sent twice creates 50 incidents, then reports all unchanged and adds no row', async (t) => {
  const city = await makeCityWithKey(db, [...WRITER])
  const items = batchOf(50)
  const first = await postBatch(app, city.key, items)
  t.equal(first.statusCode, 200)
  t.same(first.json().summary, { created: 50, updated: 0, unchanged: 0, accepted: 0, rejected: 0 })
  t.equal(first.json().dry_run, false)
  const firstItems: Item[] = first.json().items
  t.same(firstItems.map((i) => i.index), items.map((_, i) => i), 'one answer per item, in order')
  t.ok(firstItems.every((i) => i.outcome === 'created' && typeof i.id === 'string' && i.problems.length === 0))
  t.same(firstItems.map((i) => i.external_id), items.map((i) => i.external_id))
  t.equal(await incidentCount(db, city.id), 50)

  const second = await postBatch(app, city.key, items)
  t.equal(second.statusCode, 200)
  t.same(second.json().summary, { created: 0, updated: 0, unchanged: 50, accepted: 0, rejected: 0 })
  t.same(second.json().items.map((i: Item) => i.id), firstItems.map((i) => i.id), 'each item is matched to the incident it created')
  t.equal(await incidentCount(db, city.id), 50, 'zero new rows')
})

t.test('a changed item is updated: version bumped, reported_at kept, the same id', async (t) => {
  const city = await makeCityWithKey(db, [...WRITER])
  const items = batchOf(3)
  const first = await postBatch(app, city.key, items)
  const id = first.json().items[1].id as string
  const before = (await getIncident(app, city.key, id)).json()

  const changed = items.map((item, i) => i === 1 ? { ...item, summary: 'Corrected by the partner.', bias_motivations: ['14', '21'] } : item)
  const second = await postBatch(app, city.key, changed)
  t.same(second.json().summary, { created: 0, updated: 1, unchanged: 2, accepted: 0, rejected: 0 })
  t.match(second.json().items[1], { index: 1, id, outcome: 'updated' })
  const after = (await getIncident(app, city.key, id)).json()
  t.equal(after.version, before.version + 1, 'version bumped')
  t.equal(after.reported_at, before.reported_at, 'reported_at is kept from the first report')
  t.equal(after.summary, 'Corrected by the partner.')
  t.same(after.bias_motivations, ['14', '21'])
  t.same(after.bias_categories, ['race_ethnicity_ancestry', 'religion'], 'every changed column is rewritten, derived ones included')
  t.ok(after.updated_at > before.updated_at, 'updated_at moves')
  t.equal(await incidentCount(db, city.id), 3)

  const third = await postBatch(app, city.key, changed)
  t.same(third.json().summary, { created: 0, updated: 0, unchanged: 3, accepted: 0, rejected: 0 }, 'the changed batch sent again is unchanged')
  t.equal((await getIncident(app, city.key, id)).json().version, after.version)
})

t.test('bad items do not block good ones: good ones are created, bad ones rejected with their paths', async (t) => {
  const city = await makeCityWithKey(db, [...WRITER])
  const items: unknown[] = batchOf(6)
  items[1] = { ...batchOf(2)[1] as object, external_id: 'bad-type', incident_type: 'riot' }
  items[3] = { ...batchOf(4)[3] as object, external_id: 'bad-codes', bias_motivations: ['88', '14'] }
  items[4] = { ...batchOf(5)[4] as object, external_id: 'bad-field', colour: 'red' }
  items[5] = 'not an object'
  const res = await postBatch(app, city.key, items)
  t.equal(res.statusCode, 200)
  t.same(res.json().summary, { created: 2, updated: 0, unchanged: 0, accepted: 0, rejected: 4 })
  const out: Item[] = res.json().items
  t.same(out.map((i) => i.outcome), ['created', 'rejected', 'created', 'rejected', 'rejected', 'rejected'])
  t.same(out[1]?.problems.map((p) => p.path), ['/body/1/incident_type'])
  t.same(out[3]?.problems.map((p) => p.path), ['/body/3/bias_motivations'])
  t.same(out[4]?.problems.map((p) => p.path), ['/body/4/colour'])
  t.ok(out[5]?.problems.length, 'a non-object item is rejected with a problem')
  t.equal(out[3]?.external_id, 'bad-codes', 'a rejected item still names its external_id')
  t.equal(out[3]?.id, null)
  t.equal(await incidentCount(db, city.id), 2)
})

t.test('atomic=true with one bad item is a 422 listing the item\'s problem, and writes nothing', async (t) => {
  const city = await makeCityWithKey(db, [...WRITER])
  const items = batchOf(5)
  items[2] = { ...items[2], bias_motivations: ['14', '14'] }
  const res = await postBatch(app, city.key, items, '?atomic=true')
  t.equal(res.statusCode, 422)
  t.equal(res.json().code, 'unprocessable')
  t.same(res.json().errors.map((e: { path: string }) => e.path), ['/body/2/bias_motivations'])
  t.equal(await incidentCount(db, city.id), 0, 'nothing written')
  const good = await postBatch(app, city.key, batchOf(5), '?atomic=true')
  t.same(good.json().summary, { created: 5, updated: 0, unchanged: 0, accepted: 0, rejected: 0 }, 'a clean atomic batch is written')
})

t.test('dry_run=true reports the outcomes and writes nothing', async (t) => {
  const city = await makeCityWithKey(db, [...WRITER])
  const items = batchOf(4)
  await postBatch(app, city.key, items.slice(0, 2))
  const next = [items[0], { ...items[1], summary: 'changed' }, items[2], { ...items[3], bias_motivations: [] }]
  const res = await postBatch(app, city.key, next, '?dry_run=true')
  t.equal(res.statusCode, 200)
  t.equal(res.json().dry_run, true)
  t.same(res.json().items.map((i: Item) => i.outcome), ['unchanged', 'updated', 'created', 'rejected'])
  t.equal(await incidentCount(db, city.id), 2, 'no row created')
  const kept = await app.inject({ method: 'GET', url: '/v1/incidents?limit=10', headers: bearer(city.key) })
  t.ok(kept.json().data.every((i: { summary: string, version: number }) => i.summary !== 'changed' && i.version === 1), 'no row updated')
})

t.test('an NDJSON body is one report per line; a broken line is rejected and the others are created', async (t) => {
  const city = await makeCityWithKey(db, [...WRITER])
  const items = batchOf(3)
  const body = [JSON.stringify(items[0]), '{"source": "ngo-a", broken', '', JSON.stringify(items[1]), JSON.stringify(items[2])].join('\n') + '\n'
  const res = await app.inject({ method: 'POST', url: '/v1/incidents/batch', headers: { ...bearer(city.key), 'content-type': 'application/x-ndjson' }, payload: body })
  t.equal(res.statusCode, 200)
  const out: Item[] = res.json().items
  t.same(out.map((i) => i.outcome), ['created', 'rejected', 'created', 'created'])
  t.same(out[1]?.problems.map((p) => p.path), ['/body/1'])
  t.match(out[1]?.problems[0]?.message, /line 2 is not valid JSON/)
  t.equal(await incidentCount(db, city.id), 3)
})

t.test('in a batch, an item without external_id is rejected on /body/i/external_id', async (t) => {
  const city = await makeCityWithKey(db, [...WRITER])
  const { external_id: _id, ...anonymous } = report()
  const res = await postBatch(app, city.key, [report(), anonymous])
  t.same(res.json().items.map((i: Item) => i.outcome), ['created', 'rejected'])
  t.same(res.json().items[1].problems.map((p: { path: string }) => p.path), ['/body/1/external_id'])
  t.equal(await incidentCount(db, city.id), 1)
})

t.test('the same (source, external_id) twice in one batch: the second is rejected; another source with that id is its own incident', async (t) => {
  const city = await makeCityWithKey(db, [...WRITER])
  const id = uniqueId()
  const res = await postBatch(app, city.key, [report({ external_id: id }), report({ external_id: id, summary: 'again' }), report({ external_id: id, source: 'ngo-b' })])
  t.same(res.json().items.map((i: Item) => i.outcome), ['created', 'rejected', 'created'])
  t.same(res.json().items[1].problems.map((p: { path: string }) => p.path), ['/body/1/external_id'])
  t.match(res.json().items[1].problems[0].message, /item 0/)
  t.equal(await incidentCount(db, city.id), 2)
})

t.test('more than 1,000 items is a 400 and writes nothing; a body that is not an array is a 400', async (t) => {
  const city = await makeCityWithKey(db, [...WRITER])
  const many = Array.from({ length: 1001 }, (_, i) => report({ external_id: `big-${i}` }))
  const tooMany = await postBatch(app, city.key, many)
  t.equal(tooMany.statusCode, 400)
  t.equal(tooMany.json().code, 'validation_failed')
  t.equal(await incidentCount(db, city.id), 0)

  const object = await postBatch(app, city.key, report())
  t.equal(object.statusCode, 400, 'one object, not an array')
  const empty = await postBatch(app, city.key, [])
  t.equal(empty.statusCode, 400, 'an empty array')
  t.equal(await incidentCount(db, city.id), 0)
})

t.test('a batch sent again with the same Idempotency-Key replays the first answer', async (t) => {
  const city = await makeCityWithKey(db, [...WRITER])
  const items = batchOf(5)
  const headers = { ...bearer(city.key), 'idempotency-key': uniqueId('idem') }
  const first = await app.inject({ method: 'POST', url: '/v1/incidents/batch', headers, payload: items })
  t.same(first.json().summary, { created: 5, updated: 0, unchanged: 0, accepted: 0, rejected: 0 })
  const again = await app.inject({ method: 'POST', url: '/v1/incidents/batch', headers, payload: items })
  t.equal(again.statusCode, 200)
  t.equal(again.headers['idempotent-replayed'], 'true')
  t.equal(again.body, first.body, 'the very same answer (created, not unchanged)')
  t.equal(await incidentCount(db, city.id), 5)
  const other = await app.inject({ method: 'POST', url: '/v1/incidents/batch', headers, payload: batchOf(6) })
  t.equal(other.statusCode, 422, 'the same key with another body')
  t.equal(await incidentCount(db, city.id), 5)
})

t.test('a single POST repeating an existing (source, external_id) answers 200 with the same incident and creates nothing', async (t) => {
  const city = await makeCityWithKey(db, [...WRITER])
  const sent = report()
  const first = await postIncident(app, city.key, sent)
  t.equal(first.statusCode, 201)
  t.equal(first.headers.location, `/v1/incidents/${first.json().id as string}`)
  const again = await postIncident(app, city.key, sent)
  t.equal(again.statusCode, 200)
  t.equal(again.json().id, first.json().id)
  t.equal(again.json().version, 1, 'an unchanged report is not rewritten')
  const changed = await postIncident(app, city.key, { ...sent, summary: 'Updated by the partner.' })
  t.equal(changed.statusCode, 200)
  t.equal(changed.json().version, 2)
  t.equal(changed.json().summary, 'Updated by the partner.')
  t.equal(await incidentCount(db, city.id), 1)

  const { external_id: _id, ...portal } = report()
  t.equal((await postIncident(app, city.key, portal)).statusCode, 201, 'without external_id, each report is new')
  t.equal((await postIncident(app, city.key, portal)).statusCode, 201)
  t.equal(await incidentCount(db, city.id), 3)
})

t.test('a value fitting none of a field\'s alternatives is named once, each alternative in words that read', async (t) => {
  const city = await makeCityWithKey(db, [...WRITER])
  const res = await postIncident(app, city.key, report({ reporter: { name: 'A. Reporter', email: 'not-an-address', role: 'victim' } }))
  t.equal(res.statusCode, 400)
  const problems: Array<{ path: string, message: string }> = res.json().errors
  const email = problems.find((p) => p.path === '/body/reporter/email')
  t.equal(email?.message, 'must match format "email" or be null')
  t.notMatch(JSON.stringify(problems), /must be must/, 'no message repeats its verb')
  t.equal(await incidentCount(db, city.id), 0)
})
