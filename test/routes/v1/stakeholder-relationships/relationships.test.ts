import { randomUUID } from 'node:crypto'
import type { LightMyRequestResponse } from 'fastify'
import t from 'tap'
import { bearer, build, expectProblem } from '../../../helper.js'
import { makeCityWithKey, makeStakeholder } from '../../../factories.js'
import { auditActions, createRelationship, getRelationship, patchRelationship, postRelationship, relationshipCount, uniqueId } from './fixtures.js'

const { app, database } = await build(t)
const db = database.db
const WRITER = ['stakeholders:write', 'stakeholders:read'] as const

async function cityWithTwo (): Promise<{ cityId: string, key: string, a: string, b: string }> {
  const city = await makeCityWithKey(db, [...WRITER])
  return { cityId: city.id, key: city.key, a: (await makeStakeholder(db, city.id)).id, b: (await makeStakeholder(db, city.id)).id }
}

t.test('a tie between two stakeholders of the city is created with 201, Location and ETag, strength 3 by default, and read back as sent', async (t) => {
  const c = await cityWithTwo()
  const res = await postRelationship(app, c.key, { from_id: c.a, to_id: c.b, type: 'trust', since: '2023-10-01', notes: 'Met at the first workshop.' })
  t.equal(res.statusCode, 201)
  const created = res.json()
  t.equal(res.headers.location, `/v1/stakeholder-relationships/${created.id as string}`)
  t.match(res.headers.etag, /^"[^"]+-1"$/)
  t.match(created, { from_id: c.a, to_id: c.b, type: 'trust', strength: 3, since: '2023-10-01', until: null, notes: 'Met at the first workshop.', external_id: null, version: 1 })
  const read = await getRelationship(app, c.key, created.id)
  t.equal(read.statusCode, 200)
  t.same(read.json(), created)
  t.equal(read.headers.etag, res.headers.etag)
  t.same((await auditActions(db, c.cityId, created.id)).map((a) => a.action), ['stakeholder_relationship.created'], 'the creation is audited')
})

t.test('an end that is no stakeholder of the city is a 422 naming the field, and nothing is written', async (t) => {
  const c = await cityWithTwo()
  const other = await makeCityWithKey(db, [...WRITER])
  const foreign = (await makeStakeholder(db, other.id, { externalId: 'leader-1' })).id
  const cases: Array<[string, Record<string, unknown>, string[]]> = [
    ['a random id', { from_id: c.a, to_id: randomUUID(), type: 'trust' }, ['/body/to_id']],
    ['another city\'s stakeholder', { from_id: foreign, to_id: c.b, type: 'collaboration' }, ['/body/from_id']],
    ['both ends unknown', { from_id: randomUUID(), to_id: foreign, type: 'funding' }, ['/body/from_id', '/body/to_id']],
    ['an external_id only another city uses', { from_external_id: 'leader-1', to_id: c.b, type: 'referral' }, ['/body/from_external_id']],
    ['the same stakeholder at both ends', { from_id: c.a, to_id: c.a, type: 'trust' }, ['/body/to_id']]
  ]
  for (const [what, body, paths] of cases) {
    const res = await postRelationship(app, c.key, body)
    expectProblem(t, res, 422, 'unprocessable', what)
    t.same(res.json().errors.map((e: { path: string }) => e.path), paths, `${what}: names ${paths.join(', ')}`)
  }
  t.equal(await relationshipCount(db, c.cityId), 0)
  t.equal(await relationshipCount(db, other.id), 0)
})

t.test('ends can be named by the stakeholders\' external_id; naming an end twice or not at all is a 400', async (t) => {
  const c = await cityWithTwo()
  const named = await makeStakeholder(db, c.cityId, { externalId: 'police-chief' })
  const created = await createRelationship(app, c.key, { from_external_id: 'police-chief', to_id: c.a, type: 'communication' })
  t.equal(created.from_id, named.id, 'the external_id is resolved to the stakeholder\'s id')
  const twice = await postRelationship(app, c.key, { from_id: c.b, from_external_id: 'police-chief', to_id: c.a, type: 'trust' })
  expectProblem(t, twice, 400, 'validation_failed', 'both from_id and from_external_id')
  t.same(twice.json().errors.map((e: { path: string }) => e.path), ['/body/from_external_id'])
  const none = await postRelationship(app, c.key, { to_id: c.a, type: 'trust' })
  expectProblem(t, none, 400, 'validation_failed', 'no from end')
  t.same(none.json().errors.map((e: { path: string }) => e.path), ['/body/from_id'])
})

t.test('until before since, an unknown type or a strength out of 1–5 are refused with their paths', async (t) => {
  const c = await cityWithTwo()
  const period = await postRelationship(app, c.key, { from_id: c.a, to_id: c.b, type: 'trust', since: '2024-05-01', until: '2024-04-30' })
  expectProblem(t, period, 400, 'validation_failed', 'until before since')
  t.same(period.json().errors.map((e: { path: string }) => e.path), ['/body/until'])
  const type = await postRelationship(app, c.key, { from_id: c.a, to_id: c.b, type: 'rivalry' })
  t.same(type.json().errors.map((e: { path: string }) => e.path), ['/body/type'])
  const strength = await postRelationship(app, c.key, { from_id: c.a, to_id: c.b, type: 'trust', strength: 6 })
  t.same(strength.json().errors.map((e: { path: string }) => e.path), ['/body/strength'])
  const early = await postRelationship(app, c.key, { from_id: c.a, to_id: c.b, type: 'trust', since: '0001-01-01' })
  t.same(early.json().errors.map((e: { path: string }) => e.path), ['/body/since'], 'a day before 1900 is refused, not sent to the database')
  const unknownField = await postRelationship(app, c.key, { from_id: c.a, to_id: c.b, type: 'trust', colour: 'red' })
  t.same(unknownField.json().errors.map((e: { path: string }) => e.path), ['/body/colour'])
  t.equal(await relationshipCount(db, c.cityId), 0)
})

t.test('a POST with an external_id is an import: sent again unchanged it answers 200 with the same relationship', async (t) => {
  const c = await cityWithTwo()
  const body = { external_id: uniqueId(), from_id: c.a, to_id: c.b, type: 'collaboration', strength: 4 }
  const first = await postRelationship(app, c.key, body)
  t.equal(first.statusCode, 201)
  const again = await postRelationship(app, c.key, body)
  t.equal(again.statusCode, 200)
  t.equal(again.json().id, first.json().id)
  t.equal(again.json().version, 1, 'not rewritten')
  const changed = await postRelationship(app, c.key, { external_id: body.external_id, type: 'collaboration', strength: 5 })
  t.equal(changed.statusCode, 200)
  t.match(changed.json(), { id: first.json().id, strength: 5, from_id: c.a, to_id: c.b, version: 2 }, 'the ends it omitted are kept')
  t.equal(await relationshipCount(db, c.cityId), 1)
})

t.test('a POST sent again with the same Idempotency-Key replays the first answer and writes once', async (t) => {
  const c = await cityWithTwo()
  const headers = { 'idempotency-key': uniqueId('idem') }
  const body = { from_id: c.a, to_id: c.b, type: 'referral' }
  const first = await postRelationship(app, c.key, body, headers)
  t.equal(first.statusCode, 201)
  const replay = await postRelationship(app, c.key, body, headers)
  t.equal(replay.statusCode, 201)
  t.equal(replay.headers['idempotent-replayed'], 'true')
  t.equal(replay.body, first.body)
  t.equal(replay.headers.location, first.headers.location)
  t.equal(await relationshipCount(db, c.cityId), 1)
  const other = await postRelationship(app, c.key, { ...body, type: 'trust' }, headers)
  t.equal(other.statusCode, 422, 'the same key with another body')
})

t.test('PATCH is a merge patch: it changes what it names, null clears, and the ETag moves', async (t) => {
  const c = await cityWithTwo()
  const created = await createRelationship(app, c.key, { from_id: c.a, to_id: c.b, type: 'trust', strength: 2, since: '2023-01-01', notes: 'Early days.' })
  const etag = (await getRelationship(app, c.key, created.id)).headers.etag as string
  const res = await app.inject({
    method: 'PATCH',
    url: `/v1/stakeholder-relationships/${created.id as string}`,
    headers: { ...bearer(c.key), 'if-match': etag, 'content-type': 'application/merge-patch+json' },
    payload: JSON.stringify({ strength: 4, notes: null, until: '2024-06-30' })
  })
  t.equal(res.statusCode, 200)
  t.match(res.json(), { strength: 4, notes: null, until: '2024-06-30', since: '2023-01-01', type: 'trust', from_id: c.a, version: 2 })
  t.not(res.headers.etag, etag)
  const update = (await auditActions(db, c.cityId, created.id)).find((a) => a.action === 'stakeholder_relationship.updated')
  t.same((update?.details?.fields as string[]).sort(), ['notes', 'strength', 'until'], 'the audit names the fields, never their values')
})

t.test('PATCH without If-Match is 428, with a stale one 412, and neither changes anything', async (t) => {
  const c = await cityWithTwo()
  const created = await createRelationship(app, c.key, { from_id: c.a, to_id: c.b, type: 'trust' })
  expectProblem(t, await patchRelationship(app, c.key, created.id, undefined, { strength: 5 }), 428, 'precondition_required', 'no If-Match')
  const etag = (await getRelationship(app, c.key, created.id)).headers.etag as string
  t.equal((await patchRelationship(app, c.key, created.id, etag, { strength: 4 })).statusCode, 200)
  expectProblem(t, await patchRelationship(app, c.key, created.id, etag, { strength: 1 }), 412, 'precondition_failed', 'stale If-Match')
  t.equal((await getRelationship(app, c.key, created.id)).json().strength, 4)
})

t.test('PATCH to an end in another city, or to the other end itself, is a 422 and changes nothing', async (t) => {
  const c = await cityWithTwo()
  const other = await makeCityWithKey(db, [...WRITER])
  const foreign = (await makeStakeholder(db, other.id)).id
  const created = await createRelationship(app, c.key, { from_id: c.a, to_id: c.b, type: 'trust' })
  const moved = await patchRelationship(app, c.key, created.id, '*', { to_id: foreign })
  expectProblem(t, moved, 422, 'unprocessable', 'another city\'s stakeholder')
  t.same(moved.json().errors.map((e: { path: string }) => e.path), ['/body/to_id'])
  const loop = await patchRelationship(app, c.key, created.id, '*', { from_id: c.b })
  expectProblem(t, loop, 422, 'unprocessable', 'both ends the same')
  const ended = await patchRelationship(app, c.key, created.id, '*', { since: '2024-01-02', until: '2024-01-01' })
  expectProblem(t, ended, 400, 'validation_failed', 'until before since')
  const after = (await getRelationship(app, c.key, created.id)).json()
  t.match(after, { from_id: c.a, to_id: c.b, version: 1 })
})

t.test('the list filters by stakeholder at either end, type and whether the tie is active, and pages with a cursor', async (t) => {
  const c = await cityWithTwo()
  const third = (await makeStakeholder(db, c.cityId)).id
  const ab = await createRelationship(app, c.key, { from_id: c.a, to_id: c.b, type: 'trust' })
  const ba = await createRelationship(app, c.key, { from_id: c.b, to_id: c.a, type: 'funding', until: '2020-12-31' })
  const bc = await createRelationship(app, c.key, { from_id: c.b, to_id: third, type: 'trust', until: '2999-12-31' })
  const list = async (q: string): Promise<string[]> => {
    const res = await app.inject({ method: 'GET', url: `/v1/stakeholder-relationships?${q}`, headers: bearer(c.key) })
    t.equal(res.statusCode, 200, q)
    return res.json().data.map((r: { id: string }) => r.id)
  }
  t.same(await list(''), [bc.id, ba.id, ab.id], 'newest first')
  t.same(await list(`stakeholder_id=${c.a}`), [ba.id, ab.id], 'either end')
  t.same(await list(`stakeholder_id=${third}`), [bc.id])
  t.same(await list('type=trust'), [bc.id, ab.id])
  t.same(await list('active=true'), [bc.id, ab.id], 'a tie that ends in the future is still active')
  t.same(await list('active=false'), [ba.id], 'a tie that ended')

  const seen: string[] = []
  let cursor: string | null = null
  do {
    const res: LightMyRequestResponse = await app.inject({ method: 'GET', url: `/v1/stakeholder-relationships?limit=2${cursor !== null ? `&cursor=${encodeURIComponent(cursor)}` : ''}`, headers: bearer(c.key) })
    seen.push(...res.json().data.map((r: { id: string }) => r.id))
    cursor = res.json().next_cursor
  } while (cursor !== null)
  t.same(seen, [bc.id, ba.id, ab.id], 'pages of two give every relationship once')
  const bad = await app.inject({ method: 'GET', url: '/v1/stakeholder-relationships?cursor=abc.def', headers: bearer(c.key) })
  expectProblem(t, bad, 400, 'invalid_cursor', 'a tampered cursor')
})

t.test('the change feed lists relationships in the order they were written, a changed one again, and never ends', async (t) => {
  const c = await cityWithTwo()
  const feed = async (cursor?: string): Promise<{ ids: string[], cursor: string }> => {
    const res = await app.inject({ method: 'GET', url: `/v1/stakeholder-relationships?order=updated_asc${cursor !== undefined ? `&cursor=${encodeURIComponent(cursor)}` : ''}`, headers: bearer(c.key) })
    return { ids: res.json().data.map((r: { id: string }) => r.id), cursor: res.json().next_cursor }
  }
  const first = await createRelationship(app, c.key, { from_id: c.a, to_id: c.b, type: 'trust' })
  const second = await createRelationship(app, c.key, { from_id: c.b, to_id: c.a, type: 'referral' })
  const page = await feed()
  t.same(page.ids, [first.id, second.id])
  t.same((await feed(page.cursor)).ids, [], 'up to date, with a cursor to come back with')
  await patchRelationship(app, c.key, first.id, '*', { strength: 5 })
  t.same((await feed(page.cursor)).ids, [first.id], 'the changed relationship comes again')
})

t.test('DELETE removes a relationship with 204, audited; then it is 404', async (t) => {
  const c = await cityWithTwo()
  const created = await createRelationship(app, c.key, { from_id: c.a, to_id: c.b, type: 'trust' })
  const res = await app.inject({ method: 'DELETE', url: `/v1/stakeholder-relationships/${created.id as string}`, headers: bearer(c.key) })
  t.equal(res.statusCode, 204)
  t.equal(res.body, '')
  expectProblem(t, await getRelationship(app, c.key, created.id), 404, 'not_found', 'read after delete')
  const again = await app.inject({ method: 'DELETE', url: `/v1/stakeholder-relationships/${created.id as string}`, headers: bearer(c.key) })
  expectProblem(t, again, 404, 'not_found', 'delete again')
  const deleted = (await auditActions(db, c.cityId, created.id)).find((a) => a.action === 'stakeholder_relationship.deleted')
  t.match(deleted?.details, { from_id: c.a, to_id: c.b, type: 'trust' }, 'the deletion is audited with the ends it joined')
  t.equal(await relationshipCount(db, c.cityId), 0)
})
