import { randomUUID } from 'node:crypto'
import t from 'tap'
import { bearer, build, comparableProblem } from '../../../helper.js'
import { makeCityWithKey, makeKey, makeStakeholder } from '../../../factories.js'
import { createRelationship, getRelationship, relationshipCount } from './fixtures.js'

const { app, database } = await build(t)
const db = database.db
const WRITER = ['stakeholders:write', 'stakeholders:read'] as const

type Op = { method: 'GET' | 'POST' | 'PATCH' | 'DELETE', url: string, payload?: unknown, headers?: Record<string, string> }
const operations = (id: string, ends: { from_id: string, to_id: string }): Op[] => [
  { method: 'POST', url: '/v1/stakeholder-relationships', payload: { ...ends, type: 'trust' } },
  { method: 'POST', url: '/v1/stakeholder-relationships/batch', payload: [{ ...ends, external_id: 'x-1', type: 'trust' }] },
  { method: 'GET', url: '/v1/stakeholder-relationships' },
  { method: 'GET', url: `/v1/stakeholder-relationships/${id}` },
  { method: 'PATCH', url: `/v1/stakeholder-relationships/${id}`, payload: { strength: 5 }, headers: { 'if-match': '*' } },
  { method: 'DELETE', url: `/v1/stakeholder-relationships/${id}` }
]
const inject = async (op: Op, key?: string) =>
  await app.inject({ method: op.method, url: op.url, payload: op.payload as never, headers: { ...(key !== undefined ? bearer(key) : {}), ...(op.headers ?? {}) } })

async function setUp (): Promise<{ cityId: string, key: string, id: string, ends: { from_id: string, to_id: string } }> {
  const city = await makeCityWithKey(db, [...WRITER])
  const ends = { from_id: (await makeStakeholder(db, city.id)).id, to_id: (await makeStakeholder(db, city.id)).id }
  const created = await createRelationship(app, city.key, { ...ends, type: 'trust' })
  return { cityId: city.id, key: city.key, id: created.id, ends }
}

t.test('every relationship operation answers 401 without a key, and writes nothing', async (t) => {
  const s = await setUp()
  for (const op of operations(s.id, s.ends)) {
    const res = await inject(op)
    t.equal(res.statusCode, 401, `${op.method} ${op.url}`)
    t.equal(res.json().code, 'unauthorized')
  }
  t.equal(await relationshipCount(db, s.cityId), 1)
  t.equal((await getRelationship(app, s.key, s.id)).json().version, 1)
})

t.test('a key without the needed scope is 403: stakeholders:read cannot write, a key of other scopes can do neither', async (t) => {
  const s = await setUp()
  const reader = await makeKey(db, s.cityId, ['stakeholders:read'])
  const unrelated = await makeKey(db, s.cityId, ['incidents:write', 'incidents:read', 'stakeholders:read_contact'])
  for (const op of operations(s.id, s.ends)) {
    for (const [who, key] of [['stakeholders:read', reader.key], ['incidents + read_contact', unrelated.key]] as const) {
      if (who === 'stakeholders:read' && op.method === 'GET') continue
      const res = await inject(op, key)
      t.equal(res.statusCode, 403, `${who}: ${op.method} ${op.url}`)
      t.equal(res.json().code, 'forbidden')
    }
  }
  t.equal((await inject({ method: 'GET', url: `/v1/stakeholder-relationships/${s.id}` }, reader.key)).statusCode, 200, 'stakeholders:read reads')
  t.equal(await relationshipCount(db, s.cityId), 1, 'nothing was created')
  t.equal((await getRelationship(app, s.key, s.id)).json().version, 1, 'nothing was changed')
})

t.test('another city\'s relationship answers 404 on GET, PATCH and DELETE, exactly like a random id, and is not listed', async (t) => {
  const theirs = await setUp()
  const mine = await makeCityWithKey(db, ['admin'])
  const probes = (id: string): Op[] => operations(id, theirs.ends).filter((op) => op.url.endsWith(id))
  const random = probes(randomUUID())
  for (const [i, op] of probes(theirs.id).entries()) {
    const res = await inject(op, mine.key)
    t.equal(res.statusCode, 404, `${op.method} ${op.url}`)
    t.same(comparableProblem(res), comparableProblem(await inject(random[i] as Op, mine.key)), `${op.method}: the same answer as a random id`)
  }
  t.equal((await getRelationship(app, theirs.key, theirs.id)).json().version, 1, 'the other city\'s relationship is untouched')
  const list = await app.inject({ method: 'GET', url: '/v1/stakeholder-relationships', headers: bearer(mine.key) })
  t.same(list.json().data, [])
  const filtered = await app.inject({ method: 'GET', url: `/v1/stakeholder-relationships?stakeholder_id=${theirs.ends.from_id}`, headers: bearer(mine.key) })
  t.same(filtered.json().data, [], 'filtering by another city\'s stakeholder finds nothing')
})

t.test('a tie from one city to another city\'s stakeholders cannot be made by any write', async (t) => {
  const theirs = await setUp()
  const mine = await makeCityWithKey(db, [...WRITER])
  const own = (await makeStakeholder(db, mine.id)).id
  const post = await app.inject({ method: 'POST', url: '/v1/stakeholder-relationships', headers: bearer(mine.key), payload: { from_id: own, to_id: theirs.ends.to_id, type: 'trust' } })
  t.equal(post.statusCode, 422)
  const batch = await app.inject({ method: 'POST', url: '/v1/stakeholder-relationships/batch', headers: bearer(mine.key), payload: [{ external_id: 'x', ...theirs.ends, type: 'trust' }] })
  t.equal(batch.json().items[0].outcome, 'rejected')
  t.equal(await relationshipCount(db, mine.id), 0)
})

t.test('a cursor issued to another city is a 400', async (t) => {
  const a = await setUp()
  await createRelationship(app, a.key, { from_id: a.ends.to_id, to_id: a.ends.from_id, type: 'referral' })
  const b = await makeCityWithKey(db, [...WRITER])
  const page = await app.inject({ method: 'GET', url: '/v1/stakeholder-relationships?limit=1', headers: bearer(a.key) })
  const cursor = page.json().next_cursor as string
  t.type(cursor, 'string')
  const foreign = await app.inject({ method: 'GET', url: `/v1/stakeholder-relationships?limit=1&cursor=${encodeURIComponent(cursor)}`, headers: bearer(b.key) })
  t.equal(foreign.statusCode, 400)
  t.equal(foreign.json().code, 'invalid_cursor')
})
