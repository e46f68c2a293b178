import { randomBytes, randomUUID } from 'node:crypto'
import t from 'tap'
import { bearer, build, comparableProblem, expectProblem } from '../../../helper.js'
import { makeCityWithKey, makeKey } from '../../../factories.js'

const { app, database } = await build(t)
const db = database.db

type Inject = { method: 'GET' | 'POST' | 'DELETE', url: string, payload?: Record<string, unknown> }
const operations = (id: string): Inject[] => [
  { method: 'POST', url: '/v1/api-keys', payload: { name: 'x', scopes: ['kpis:read'] } },
  { method: 'GET', url: '/v1/api-keys' },
  { method: 'GET', url: `/v1/api-keys/${id}` },
  { method: 'DELETE', url: `/v1/api-keys/${id}` }
]

async function listIds (key: string): Promise<string[]> {
  const res = await app.inject({ method: 'GET', url: '/v1/api-keys?limit=200', headers: bearer(key) })
  return res.json().data.map((k: { id: string }) => k.id)
}

/** A city with enough keys for `limit=1` to answer a next_cursor. */
async function cityWithCursor (): Promise<{ key: string, keyId: string, cursor: string }> {
  const city = await makeCityWithKey(db)
  await makeKey(db, city.id, ['kpis:read'])
  const res = await app.inject({ method: 'GET', url: '/v1/api-keys?limit=1', headers: bearer(city.key) })
  const cursor = res.json().next_cursor
  if (typeof cursor !== 'string') throw new Error('expected a next_cursor')
  return { key: city.key, keyId: city.keyId, cursor }
}

t.test('every api-keys operation answers 401 problem+json with WWW-Authenticate: Bearer without a key', async (t) => {
  const city = await makeCityWithKey(db)
  for (const op of operations(city.keyId)) {
    const res = await app.inject(op)
    expectProblem(t, res, 401, 'unauthorized', `${op.method} ${op.url}`)
    t.match(res.headers['www-authenticate'], /^Bearer\b/)
  }
  t.same(await listIds(city.key), [city.keyId], 'nothing was created')
  t.equal((await app.inject({ method: 'GET', url: '/v1/city', headers: bearer(city.key) })).statusCode, 200, 'nothing was revoked')
})

t.test('a malformed Authorization header is 401 with WWW-Authenticate: Bearer', async (t) => {
  const city = await makeCityWithKey(db)
  const malformed = ['Basic dXNlcjpwYXNz', 'Bearer', 'Bearer ', `Bearer ${city.key} extra`, city.key, `Token ${city.key}`, 'Bearer \u00e9t\u00e9']
  for (const authorization of malformed) {
    const res = await app.inject({ method: 'GET', url: '/v1/api-keys', headers: { authorization } })
    expectProblem(t, res, 401, 'unauthorized', JSON.stringify(authorization.replace(city.key, '<key>')))
    t.match(res.headers['www-authenticate'], /^Bearer\b/)
  }
})

t.test('an unknown key is 401 with WWW-Authenticate: Bearer, and the answer does not echo it', async (t) => {
  const unknown = `coh_${randomBytes(24).toString('base64url')}`
  for (const op of operations(randomUUID())) {
    const res = await app.inject({ ...op, headers: bearer(unknown) })
    expectProblem(t, res, 401, 'unauthorized', `${op.method} ${op.url}`)
    t.match(res.headers['www-authenticate'], /^Bearer\b/)
    t.notOk(res.body.includes(unknown))
  }
})

t.test('a key without admin is 403 on every api-keys operation, naming the missing admin scope', async (t) => {
  const city = await makeCityWithKey(db)
  const reader = await makeKey(db, city.id, ['incidents:read', 'kpis:write'])
  for (const op of operations(city.keyId)) {
    const res = await app.inject({ ...op, headers: bearer(reader.key) })
    expectProblem(t, res, 403, 'forbidden', `${op.method} ${op.url}`)
    t.match(res.json().detail, /\badmin\b/)
  }
  t.same((await listIds(city.key)).sort(), [city.keyId, reader.id].sort(), 'the refused POST created nothing')
  t.equal((await app.inject({ method: 'GET', url: '/v1/city', headers: bearer(city.key) })).statusCode, 200, 'the refused DELETE revoked nothing')
})

t.test('personal-data scopes are not implied by admin: admin alone cannot grant any of them', async (t) => {
  const city = await makeCityWithKey(db)
  for (const scope of ['incidents:read_personal', 'stakeholders:read_contact', 'surveys:read_responses']) {
    const res = await app.inject({ method: 'POST', url: '/v1/api-keys', headers: bearer(city.key), payload: { name: 'p', scopes: [scope] } })
    expectProblem(t, res, 403, 'forbidden', scope)
    t.match(res.json().detail, scope)
  }
})

t.test('another city\'s key id answers 404 exactly like a random UUID, on GET and DELETE, and stays unrevoked', async (t) => {
  const ours = await makeCityWithKey(db)
  const theirs = await makeCityWithKey(db)
  for (const method of ['GET', 'DELETE'] as const) {
    const foreign = await app.inject({ method, url: `/v1/api-keys/${theirs.keyId}`, headers: bearer(ours.key) })
    const random = await app.inject({ method, url: `/v1/api-keys/${randomUUID()}`, headers: bearer(ours.key) })
    expectProblem(t, foreign, 404, 'not_found', `${method} another city's key`)
    t.same(comparableProblem(foreign), comparableProblem(random), `${method}: indistinguishable from a key that does not exist`)
  }
  const still = await app.inject({ method: 'GET', url: '/v1/city', headers: bearer(theirs.key) })
  t.equal(still.statusCode, 200, 'the other city\'s key still works')
  const record = await app.inject({ method: 'GET', url: `/v1/api-keys/${theirs.keyId}`, headers: bearer(theirs.key) })
  t.equal(record.json().revoked_at, null)
})

t.test('another city\'s list shows none of our keys', async (t) => {
  const ours = await makeCityWithKey(db)
  const more = await makeKey(db, ours.id, ['kpis:read'])
  const theirs = await makeCityWithKey(db)
  const theirIds = await listIds(theirs.key)
  t.same(theirIds, [theirs.keyId])
  t.notOk(theirIds.includes(ours.keyId) || theirIds.includes(more.id))
  for (const state of ['active', 'revoked', 'expired']) {
    const res = await app.inject({ method: 'GET', url: `/v1/api-keys?state=${state}`, headers: bearer(theirs.key) })
    const found = res.json().data.map((k: { id: string }) => k.id)
    t.notOk(found.includes(ours.keyId) || found.includes(more.id), `state=${state} shows none of ours`)
  }
})

t.test('a city_id in the create body is refused as an unknown field: the city comes from the key alone', async (t) => {
  const ours = await makeCityWithKey(db)
  const theirs = await makeCityWithKey(db)
  const res = await app.inject({ method: 'POST', url: '/v1/api-keys', headers: bearer(ours.key), payload: { name: 'x', scopes: ['kpis:read'], city_id: theirs.id } })
  expectProblem(t, res, 400, 'validation_failed', 'a city_id in the body')
  t.same(res.json().errors, [{ path: '/body/city_id', message: 'is not a known field' }])
  t.same(await listIds(theirs.key), [theirs.keyId])
})

t.test('a cursor issued to city A is 400 invalid_cursor for city B', async (t) => {
  const a = await cityWithCursor()
  const b = await cityWithCursor()
  const res = await app.inject({ method: 'GET', url: `/v1/api-keys?limit=1&cursor=${encodeURIComponent(a.cursor)}`, headers: bearer(b.key) })
  expectProblem(t, res, 400, 'invalid_cursor', 'foreign cursor')
  t.same(res.json().errors, [{ path: '/query/cursor', message: 'is not valid for this list' }])
  const own = await app.inject({ method: 'GET', url: `/v1/api-keys?limit=1&cursor=${encodeURIComponent(a.cursor)}`, headers: bearer(a.key) })
  t.equal(own.statusCode, 200, 'the same cursor works for the city it was issued to')
  t.equal(own.json().data.length, 1)
})

t.test('a tampered cursor is 400 invalid_cursor', async (t) => {
  const a = await cityWithCursor()
  const sealed = Buffer.from(a.cursor, 'base64url')
  const flip = (at: number): string => { const copy = Buffer.from(sealed); copy[at] = (copy[at] ?? 0) ^ 1; return copy.toString('base64url') }
  const forgedPayload = Buffer.from(JSON.stringify(['ffffffff-ffff-7fff-bfff-ffffffffffff'])).toString('base64url')
  const tampered = {
    'a position written in the clear': forgedPayload,
    'a changed nonce': flip(3),
    'a changed tag': flip(20),
    'a changed position': flip(sealed.length - 1),
    'an extra segment': `${a.cursor}.x`,
    'a signed position of the earlier form, with a made-up signature': `${forgedPayload}.${'A'.repeat(24)}`,
    garbage: 'not-a-cursor'
  }
  for (const [what, cursor] of Object.entries(tampered)) {
    const res = await app.inject({ method: 'GET', url: `/v1/api-keys?cursor=${encodeURIComponent(cursor)}`, headers: bearer(a.key) })
    expectProblem(t, res, 400, 'invalid_cursor', what)
  }
})

t.test('a cursor from the api-keys list is 400 invalid_cursor on the audit-events list, and the reverse', async (t) => {
  const city = await makeCityWithKey(db)
  for (let i = 0; i < 2; i++) {
    const res = await app.inject({ method: 'POST', url: '/v1/api-keys', headers: bearer(city.key), payload: { name: `k${i}`, scopes: ['kpis:read'] } })
    t.equal(res.statusCode, 201)
  }
  const keysCursor = (await app.inject({ method: 'GET', url: '/v1/api-keys?limit=1', headers: bearer(city.key) })).json().next_cursor
  const eventsCursor = (await app.inject({ method: 'GET', url: '/v1/audit-events?limit=1', headers: bearer(city.key) })).json().next_cursor
  t.type(keysCursor, 'string')
  t.type(eventsCursor, 'string')
  const onEvents = await app.inject({ method: 'GET', url: `/v1/audit-events?cursor=${encodeURIComponent(keysCursor)}`, headers: bearer(city.key) })
  expectProblem(t, onEvents, 400, 'invalid_cursor', 'api-keys cursor on audit-events')
  const onKeys = await app.inject({ method: 'GET', url: `/v1/api-keys?cursor=${encodeURIComponent(eventsCursor)}`, headers: bearer(city.key) })
  expectProblem(t, onKeys, 400, 'invalid_cursor', 'audit-events cursor on api-keys')
})
