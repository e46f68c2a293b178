import t from 'tap'
import { build } from '../../../helper.js'
import { makeCityWithKey, makeStakeholder } from '../../../factories.js'
import { getProgram, postBatch, postProgram, program, programCount } from './fixtures.js'

const { app, database } = await build(t)
const db = database.db
const WRITER = ['stakeholders:write', 'stakeholders:read'] as const

type Item = { index: number, id: string | null, external_id: string | null, outcome: string, problems: Array<{ path: string, message: string }> }

const directory = (n: number): Array<Record<string, unknown>> =>
  Array.from({ length: n }, (_, i) => program({ external_id: `p-${i}`, name: `Program ${i}`, service_types: [i % 2 === 0 ? 'youth' : 'housing'] }))

t.test('the same directory sent twice creates each program once, then answers every item unchanged', async (t) => {
  const city = await makeCityWithKey(db, [...WRITER])
  const items = directory(30)
  const first = await postBatch(app, city.key, items)
  t.equal(first.statusCode, 200)
  t.same(first.json().summary, { created: 30, updated: 0, unchanged: 0, accepted: 0, rejected: 0 })
  const second = await postBatch(app, city.key, items)
  t.same(second.json().summary, { created: 0, updated: 0, unchanged: 30, accepted: 0, rejected: 0 })
  t.same(second.json().items.map((i: Item) => i.id), first.json().items.map((i: Item) => i.id))
  t.equal(await programCount(db, city.id), 30)
})

t.test('a changed item without some fields updates what it names and keeps the rest; the city\'s PATCH survives an unchanged re-import', async (t) => {
  const city = await makeCityWithKey(db, [...WRITER])
  const [item] = directory(1) as [Record<string, unknown>]
  const id = (await postBatch(app, city.key, [item])).json().items[0].id as string
  const changed = await postBatch(app, city.key, [{ external_id: item.external_id, name: 'Renamed program', url: null }])
  t.match(changed.json().items[0], { id, outcome: 'updated' })
  const stored = (await getProgram(app, city.key, id)).json()
  t.match(stored, { name: 'Renamed program', url: null, public_email: item.public_email, languages: item.languages, service_types: item.service_types, version: 2 },
    'the omitted fields keep their values; null cleared url')

  const archived = await app.inject({ method: 'PATCH', url: `/v1/programs/${id}`, headers: { authorization: `Bearer ${city.key}`, 'if-match': '*' }, payload: { active: false } })
  t.equal(archived.statusCode, 200)
  const again = await postBatch(app, city.key, [{ external_id: item.external_id, name: 'Renamed program', url: null }])
  t.equal(again.json().items[0].outcome, 'unchanged')
  t.equal((await getProgram(app, city.key, id)).json().active, false, 'the city\'s archiving stays')
})

t.test('an item whose provider is no stakeholder of the city is rejected with its path; the others are written', async (t) => {
  const city = await makeCityWithKey(db, [...WRITER])
  const other = await makeCityWithKey(db, [...WRITER])
  const own = await makeStakeholder(db, city.id)
  const foreign = await makeStakeholder(db, other.id)
  const items = directory(3)
  items[0] = { ...items[0], provider_id: own.id }
  items[1] = { ...items[1], provider_id: foreign.id }
  const res = await postBatch(app, city.key, items)
  t.same(res.json().items.map((i: Item) => i.outcome), ['created', 'rejected', 'created'])
  t.same(res.json().items[1].problems, [{ path: '/body/1/provider_id', message: 'is not a stakeholder of this city' }])
  t.equal(await programCount(db, city.id), 2)
})

t.test('a single POST with an existing external_id updates the program (200) instead of adding another', async (t) => {
  const city = await makeCityWithKey(db, [...WRITER])
  const sent = program({ external_id: 'dir-1' })
  const first = await postProgram(app, city.key, sent)
  t.equal(first.statusCode, 201)
  const again = await postProgram(app, city.key, { ...sent, eligibility: 'Residents under 25.' })
  t.equal(again.statusCode, 200)
  t.equal(again.json().id, first.json().id)
  t.equal(again.json().eligibility, 'Residents under 25.')
  t.equal(await programCount(db, city.id), 1)
})
