import { randomBytes, randomUUID } from 'node:crypto'
import t from 'tap'
import { bearer, build, comparableProblem, expectProblem } from '../../../helper.js'
import { makeCityWithKey, makeKey } from '../../../factories.js'

const { app, database } = await build(t)
const db = database.db

/** A city with a few audit events (each key created through the API writes one). */
async function cityWithEvents (count = 2): Promise<{ id: string, key: string, keyId: string, eventIds: string[] }> {
  const city = await makeCityWithKey(db)
  for (let i = 0; i < count; i++) {
    const res = await app.inject({ method: 'POST', url: '/v1/api-keys', headers: bearer(city.key), payload: { name: `k${i}`, scopes: ['kpis:read'] } })
    if (res.statusCode !== 201) throw new Error(res.body)
  }
  const list = await app.inject({ method: 'GET', url: '/v1/audit-events', headers: bearer(city.key) })
  return { ...city, eventIds: list.json().data.map((e: { id: string }) => e.id) }
}

t.test('the audit-events operations answer 401 problem+json with WWW-Authenticate: Bearer without a key, with a malformed header, with an unknown key', async (t) => {
  const city = await cityWithEvents(1)
  const eventId = city.eventIds[0] as string
  const unknown = `coh_${randomBytes(24).toString('base64url')}`
  const headers: Record<string, Record<string, string>> = {
    'no key': {},
    'a Basic header': { authorization: 'Basic dXNlcjpwYXNz' },
    'a key followed by a stray word': { authorization: `Bearer ${city.key} x` },
    'an unknown key': bearer(unknown)
  }
  for (const url of ['/v1/audit-events', `/v1/audit-events/${eventId}`]) {
    for (const [what, extra] of Object.entries(headers)) {
      const res = await app.inject({ method: 'GET', url, headers: extra })
      expectProblem(t, res, 401, 'unauthorized', `GET ${url} with ${what}`)
      t.match(res.headers['www-authenticate'], /^Bearer\b/)
      t.notOk('data' in res.json() || 'action' in res.json(), 'nothing of the trail is shown')
    }
  }
})

t.test('reading the audit trail needs admin; another scope is 403 naming admin', async (t) => {
  const city = await cityWithEvents(1)
  const reader = await makeKey(db, city.id, ['incidents:read', 'incidents:read_personal', 'exports:read'])
  for (const url of ['/v1/audit-events', `/v1/audit-events/${city.eventIds[0] as string}`]) {
    const res = await app.inject({ method: 'GET', url, headers: bearer(reader.key) })
    expectProblem(t, res, 403, 'forbidden', `GET ${url}`)
    t.match(res.json().detail, /\badmin\b/)
  }
})

t.test('another city\'s audit event id answers 404 exactly like a random UUID', async (t) => {
  const ours = await cityWithEvents(1)
  const theirs = await cityWithEvents(1)
  const theirEvent = theirs.eventIds[0] as string
  t.equal((await app.inject({ method: 'GET', url: `/v1/audit-events/${theirEvent}`, headers: bearer(theirs.key) })).statusCode, 200, 'the event exists for its own city')
  const foreign = await app.inject({ method: 'GET', url: `/v1/audit-events/${theirEvent}`, headers: bearer(ours.key) })
  const random = await app.inject({ method: 'GET', url: `/v1/audit-events/${randomUUID()}`, headers: bearer(ours.key) })
  expectProblem(t, foreign, 404, 'not_found', 'another city\'s event')
  t.same(comparableProblem(foreign), comparableProblem(random), 'indistinguishable from an event that does not exist')
})

t.test('another city\'s audit list shows none of our events, whatever the filter', async (t) => {
  const ours = await cityWithEvents(3)
  const theirs = await cityWithEvents(1)
  const theirList = await app.inject({ method: 'GET', url: '/v1/audit-events?limit=200', headers: bearer(theirs.key) })
  const found: string[] = theirList.json().data.map((e: { id: string }) => e.id)
  t.same(found, theirs.eventIds)
  t.notOk(found.some((id) => ours.eventIds.includes(id)))
  for (const filter of [`actor_key_id=${ours.keyId}`, 'object_type=api_key', 'action=api_key.created', `object_id=${ours.keyId}`]) {
    const res = await app.inject({ method: 'GET', url: `/v1/audit-events?${filter}`, headers: bearer(theirs.key) })
    t.equal(res.statusCode, 200)
    const ids: string[] = res.json().data.map((e: { id: string }) => e.id)
    t.notOk(ids.some((id) => ours.eventIds.includes(id)), `${filter} shows none of ours`)
  }
})

t.test('an audit-events cursor of city A is 400 invalid_cursor for city B; a tampered one is 400 too', async (t) => {
  const a = await cityWithEvents(2)
  const b = await cityWithEvents(2)
  const cursor = (await app.inject({ method: 'GET', url: '/v1/audit-events?limit=1', headers: bearer(a.key) })).json().next_cursor as string
  t.type(cursor, 'string')
  const foreign = await app.inject({ method: 'GET', url: `/v1/audit-events?limit=1&cursor=${encodeURIComponent(cursor)}`, headers: bearer(b.key) })
  expectProblem(t, foreign, 400, 'invalid_cursor', 'A\'s cursor used by B')
  const [, signature] = cursor.split('.') as [string, string]
  const forged = `${Buffer.from(JSON.stringify([b.eventIds[0]])).toString('base64url')}.${signature}`
  const tampered = await app.inject({ method: 'GET', url: `/v1/audit-events?cursor=${encodeURIComponent(forged)}`, headers: bearer(a.key) })
  expectProblem(t, tampered, 400, 'invalid_cursor', 'a forged position')
  const own = await app.inject({ method: 'GET', url: `/v1/audit-events?limit=1&cursor=${encodeURIComponent(cursor)}`, headers: bearer(a.key) })
  t.equal(own.statusCode, 200, 'the cursor still works for A')
  t.equal(own.json().data.length, 1)
})
