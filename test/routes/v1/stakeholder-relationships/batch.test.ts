import t from 'tap'
import { bearer, build, countStatements } from '../../../helper.js'
import { makeCityWithKey, makeStakeholder } from '../../../factories.js'
import { getRelationship, postBatch, relationshipCount } from './fixtures.js'

const { app, database } = await build(t)
const db = database.db
const WRITER = ['stakeholders:write', 'stakeholders:read'] as const

type Item = { index: number, id: string | null, external_id: string | null, outcome: string, problems: Array<{ path: string, message: string }> }

/** A city whose stakeholders carry the external ids of its spreadsheet: s-0 … s-(n-1). */
async function cityWithSpreadsheet (n: number): Promise<{ cityId: string, key: string, ids: string[] }> {
  const city = await makeCityWithKey(db, [...WRITER])
  const ids: string[] = []
  for (let i = 0; i < n; i++) ids.push((await makeStakeholder(db, city.id, { externalId: `s-${i}` })).id)
  return { cityId: city.id, key: city.key, ids }
}

/** A spreadsheet of ties: s-i to s-(i+1), named by external ids. */
const sheet = (n: number): Array<Record<string, unknown>> =>
  Array.from({ length: n }, (_, i) => ({ external_id: `tie-${i}`, from_external_id: `s-${i}`, to_external_id: `s-${i + 1}`, type: i % 2 === 0 ? 'trust' : 'collaboration', strength: 1 + (i % 5) }))

t.test('the same batch sent twice creates each tie once, then answers every item unchanged and adds no row', async (t) => {
  const c = await cityWithSpreadsheet(21)
  const items = sheet(20)
  const first = await postBatch(app, c.key, items)
  t.equal(first.statusCode, 200)
  t.same(first.json().summary, { created: 20, updated: 0, unchanged: 0, accepted: 0, rejected: 0 })
  const firstItems: Item[] = first.json().items
  const stored = (await getRelationship(app, c.key, firstItems[3]?.id as string)).json()
  t.match(stored, { external_id: 'tie-3', from_id: c.ids[3], to_id: c.ids[4], type: 'collaboration', strength: 4 }, 'external ids are resolved to the stakeholders')

  const second = await postBatch(app, c.key, items)
  t.same(second.json().summary, { created: 0, updated: 0, unchanged: 20, accepted: 0, rejected: 0 })
  t.same(second.json().items.map((i: Item) => i.id), firstItems.map((i) => i.id), 'each item is matched to the tie it created')
  t.equal(await relationshipCount(db, c.cityId), 20)
})

t.test('a changed item sent again without some fields updates what it names and keeps what it omits', async (t) => {
  const c = await cityWithSpreadsheet(3)
  const first = await postBatch(app, c.key, [{ external_id: 'tie-a', from_external_id: 's-0', to_external_id: 's-1', type: 'trust', strength: 2, since: '2023-11-01', notes: 'Introduced by the city.' }])
  const id = first.json().items[0].id as string
  const second = await postBatch(app, c.key, [{ external_id: 'tie-a', type: 'trust', strength: 4 }])
  t.match(second.json().items[0], { id, outcome: 'updated' })
  const stored = (await getRelationship(app, c.key, id)).json()
  t.match(stored, { strength: 4, since: '2023-11-01', notes: 'Introduced by the city.', from_id: c.ids[0], to_id: c.ids[1], version: 2 }, 'the omitted fields and ends are kept')

  const moved = await postBatch(app, c.key, [{ external_id: 'tie-a', type: 'trust', to_external_id: 's-2', notes: null }])
  t.equal(moved.json().items[0].outcome, 'updated')
  t.match((await getRelationship(app, c.key, id)).json(), { to_id: c.ids[2], from_id: c.ids[0], notes: null, strength: 4 }, 'an end named anew by external_id replaces the stored one; null clears notes')
  t.equal(await relationshipCount(db, c.cityId), 1)
})

t.test('an item naming no stakeholder of the city is rejected with its path; the others are written', async (t) => {
  const c = await cityWithSpreadsheet(3)
  const other = await makeCityWithKey(db, [...WRITER])
  const foreign = await makeStakeholder(db, other.id, { externalId: 'elsewhere' })
  const res = await postBatch(app, c.key, [
    { external_id: 't-0', from_external_id: 's-0', to_external_id: 's-1', type: 'trust' },
    { external_id: 't-1', from_external_id: 's-0', to_external_id: 'nobody', type: 'trust' },
    { external_id: 't-2', from_id: c.ids[1], to_id: foreign.id, type: 'funding' },
    { external_id: 't-3', from_external_id: 'elsewhere', to_id: c.ids[2], type: 'referral' },
    { external_id: 't-4', from_external_id: 's-2', to_id: c.ids[2], type: 'trust' },
    { external_id: 't-5', from_id: c.ids[1], to_external_id: 's-2', type: 'communication' }
  ])
  t.equal(res.statusCode, 200)
  const out: Item[] = res.json().items
  t.same(out.map((i) => i.outcome), ['created', 'rejected', 'rejected', 'rejected', 'rejected', 'created'])
  t.same(out[1]?.problems.map((p) => p.path), ['/body/1/to_external_id'])
  t.same(out[2]?.problems.map((p) => p.path), ['/body/2/to_id'], 'another city\'s stakeholder is unknown here')
  t.same(out[3]?.problems.map((p) => p.path), ['/body/3/from_external_id'], 'another city\'s external id is unknown here')
  t.same(out[4]?.problems.map((p) => p.path), ['/body/4/to_id'], 'both ends the same stakeholder')
  t.equal(out[1]?.external_id, 't-1')
  t.equal(await relationshipCount(db, c.cityId), 2)
  t.equal(await relationshipCount(db, other.id), 0)
})

t.test('atomic=true with an unknown end is a 422 listing it and writes nothing; dry_run resolves ends and writes nothing', async (t) => {
  const c = await cityWithSpreadsheet(4)
  const items = sheet(3)
  items[1] = { ...items[1], to_external_id: 'nobody' }
  const atomic = await postBatch(app, c.key, items, '?atomic=true')
  t.equal(atomic.statusCode, 422)
  t.equal(atomic.json().code, 'unprocessable')
  t.same(atomic.json().errors.map((e: { path: string }) => e.path), ['/body/1/to_external_id'])
  t.equal(await relationshipCount(db, c.cityId), 0)

  const dry = await postBatch(app, c.key, items, '?dry_run=true')
  t.equal(dry.json().dry_run, true)
  t.same(dry.json().items.map((i: Item) => i.outcome), ['created', 'rejected', 'created'])
  t.equal(await relationshipCount(db, c.cityId), 0)
})

t.test('the ends of a whole batch are looked up in one query, not one per item', async (t) => {
  const c = await cityWithSpreadsheet(101)
  const lookups = countStatements(database, /FROM stakeholders/i)
  const res = await postBatch(app, c.key, sheet(100))
  t.same(res.json().summary, { created: 100, updated: 0, unchanged: 0, accepted: 0, rejected: 0 })
  t.equal(lookups.count(), 1, 'one look-up of stakeholders for 100 items')
})

t.test('a batch in one city never updates another city\'s relationship with the same external_id', async (t) => {
  const a = await cityWithSpreadsheet(2)
  const b = await cityWithSpreadsheet(2)
  const item = { external_id: 'shared-id', from_external_id: 's-0', to_external_id: 's-1', type: 'trust', notes: 'City A.' }
  const inA = (await postBatch(app, a.key, [item])).json().items[0]
  const inB = (await postBatch(app, b.key, [{ ...item, notes: 'City B.' }])).json().items[0]
  t.equal(inB.outcome, 'created')
  t.not(inB.id, inA.id)
  t.equal((await getRelationship(app, a.key, inA.id)).json().notes, 'City A.')
  const listed = await app.inject({ method: 'GET', url: '/v1/stakeholder-relationships', headers: bearer(b.key) })
  t.same(listed.json().data.map((r: { id: string }) => r.id), [inB.id])
})
