import { randomUUID } from 'node:crypto'
import { sql } from 'drizzle-orm'
import t from 'tap'
import { query } from '../../../../src/db/client.js'
import { bearer, build } from '../../../helper.js'
import { makeCityWithKey, makeKey } from '../../../factories.js'

const { app, database } = await build(t)
const db = database.db

interface Event { id: string, occurred_at: string, action: string, object_type: string, object_id: string, actor_key_id: string | null, actor_type: string, request_id: string | null, details: Record<string, unknown> }

const pause = async (ms: number): Promise<void> => { await new Promise((resolve) => setTimeout(resolve, ms)) }

/**
 * Four events in a known order, at least 10 ms apart (so that every occurred_at falls in its own
 * millisecond, which is the resolution the API shows): two admins create a key each, the first revokes
 * its key, the second changes the city.
 */
async function scenario (): Promise<{ key: string, k1: string, k2: string, x: string, y: string, events: Event[] }> {
  const city = await makeCityWithKey(db)
  const second = await makeKey(db, city.id, ['admin'])
  const x = await app.inject({ method: 'POST', url: '/v1/api-keys', headers: bearer(city.key), payload: { name: 'x', scopes: ['kpis:read'] } })
  await pause(15)
  const y = await app.inject({ method: 'POST', url: '/v1/api-keys', headers: bearer(second.key), payload: { name: 'y', scopes: ['plans:read'] } })
  await pause(15)
  const revoke = await app.inject({ method: 'DELETE', url: `/v1/api-keys/${x.json().id as string}`, headers: bearer(city.key) })
  await pause(15)
  const patch = await app.inject({ method: 'PATCH', url: '/v1/city', headers: { ...bearer(second.key), 'if-match': '*' }, payload: { population: 140000 } })
  if (x.statusCode !== 201 || y.statusCode !== 201 || revoke.statusCode !== 204 || patch.statusCode !== 200) throw new Error('scenario setup failed')
  const list = await app.inject({ method: 'GET', url: '/v1/audit-events', headers: bearer(city.key) })
  return { key: city.key, k1: city.keyId, k2: second.id, x: x.json().id, y: y.json().id, events: list.json().data }
}

async function listIds (key: string, queryString: string): Promise<string[]> {
  const res = await app.inject({ method: 'GET', url: `/v1/audit-events?${queryString}`, headers: bearer(key) })
  if (res.statusCode !== 200) throw new Error(`list answered ${res.statusCode}: ${res.body}`)
  return res.json().data.map((e: Event) => e.id)
}

/** The error text of a failed query, whether or not the driver wrapper nests the database error. */
function messageOf (err: unknown): string {
  const e = err as { message?: string, cause?: { message?: string } }
  return `${e.message ?? ''} ${e.cause?.message ?? ''}`
}

t.test('GET /v1/audit-events lists the city\'s events newest first, with actor, object and request id', async (t) => {
  const s = await scenario()
  t.same(s.events.map((e) => e.action), ['city.updated', 'api_key.revoked', 'api_key.created', 'api_key.created'])
  const [e4, e3, e2, e1] = s.events as [Event, Event, Event, Event]
  t.same([e1.object_id, e2.object_id, e3.object_id], [s.x, s.y, s.x])
  t.same([e1.actor_key_id, e2.actor_key_id, e3.actor_key_id, e4.actor_key_id], [s.k1, s.k2, s.k1, s.k2])
  t.equal(e4.object_type, 'city')
  const times = s.events.map((e) => Date.parse(e.occurred_at))
  t.ok(times.every((time, i) => i === 0 || time <= (times[i - 1] as number)), 'occurred_at descends with the order')
  for (const e of s.events) {
    t.equal(e.actor_type, 'api_key')
    t.type(e.request_id, 'string')
    t.match(e.occurred_at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/)
  }
})

t.test('the audit list filters by object_type, object_id, action and actor_key_id, alone and together', async (t) => {
  const s = await scenario()
  const [e4, e3, e2, e1] = s.events.map((e) => e.id) as [string, string, string, string]
  t.same(await listIds(s.key, 'object_type=api_key'), [e3, e2, e1])
  t.same(await listIds(s.key, 'object_type=city'), [e4])
  t.same(await listIds(s.key, `object_id=${s.x}`), [e3, e1])
  t.same(await listIds(s.key, 'action=api_key.revoked'), [e3])
  t.same(await listIds(s.key, 'action=api_key.created'), [e2, e1])
  t.same(await listIds(s.key, `actor_key_id=${s.k2}`), [e4, e2])
  t.same(await listIds(s.key, `object_type=api_key&actor_key_id=${s.k1}`), [e3, e1])
  t.same(await listIds(s.key, `object_id=${s.y}&action=api_key.revoked`), [], 'filters combine with AND')
  t.same(await listIds(s.key, 'object_type=incident'), [], 'an unknown object type matches nothing')
  t.same(await listIds(s.key, `actor_key_id=${randomUUID()}`), [])
})

t.test('occurred_from is inclusive and occurred_to exclusive', async (t) => {
  const s = await scenario()
  const [e4, e3, e2, e1] = s.events as [Event, Event, Event, Event]
  const q = (name: string, e: Event): string => `${name}=${encodeURIComponent(e.occurred_at)}`
  t.same(await listIds(s.key, q('occurred_from', e2)), [e4.id, e3.id, e2.id])
  t.same(await listIds(s.key, q('occurred_to', e3)), [e2.id, e1.id])
  t.same(await listIds(s.key, `${q('occurred_from', e2)}&${q('occurred_to', e4)}`), [e3.id, e2.id])
  t.same(await listIds(s.key, `${q('occurred_from', e4)}&${q('occurred_to', e1)}`), [], 'an empty window')
  t.same(await listIds(s.key, `occurred_from=${encodeURIComponent(new Date(Date.now() + 3_600_000).toISOString())}`), [], 'nothing lies in the future')
})

t.test('the audit list pages with limit and next_cursor, filters included, without gaps or repeats', async (t) => {
  const s = await scenario()
  const all = s.events.map((e) => e.id)
  const first = await app.inject({ method: 'GET', url: '/v1/audit-events?limit=3', headers: bearer(s.key) })
  t.same(first.json().data.map((e: Event) => e.id), all.slice(0, 3))
  t.type(first.json().next_cursor, 'string')
  const second = await app.inject({ method: 'GET', url: `/v1/audit-events?limit=3&cursor=${encodeURIComponent(first.json().next_cursor)}`, headers: bearer(s.key) })
  t.same(second.json().data.map((e: Event) => e.id), all.slice(3))
  t.equal(second.json().next_cursor, null)

  const exact = await app.inject({ method: 'GET', url: '/v1/audit-events?limit=4', headers: bearer(s.key) })
  t.equal(exact.json().next_cursor, null, 'a page that ends the list has no next_cursor')

  const filtered = await app.inject({ method: 'GET', url: '/v1/audit-events?object_type=api_key&limit=2', headers: bearer(s.key) })
  t.same(filtered.json().data.map((e: Event) => e.id), all.slice(1, 3))
  const rest = await app.inject({ method: 'GET', url: `/v1/audit-events?object_type=api_key&limit=2&cursor=${encodeURIComponent(filtered.json().next_cursor)}`, headers: bearer(s.key) })
  t.same(rest.json().data.map((e: Event) => e.id), all.slice(3))
  t.equal(rest.json().next_cursor, null)
})

t.test('the audit list refuses malformed filters and limits with 400 naming the parameter', async (t) => {
  const city = await makeCityWithKey(db)
  const cases: Record<string, string> = {
    'occurred_from=yesterday': '/query/occurred_from',
    'actor_key_id=not-a-uuid': '/query/actor_key_id',
    'limit=0': '/query/limit',
    'limit=201': '/query/limit',
    'colour=red': '/query/colour'
  }
  for (const [qs, path] of Object.entries(cases)) {
    const res = await app.inject({ method: 'GET', url: `/v1/audit-events?${qs}`, headers: bearer(city.key) })
    t.equal(res.statusCode, 400, qs)
    t.equal(res.json().code, 'validation_failed')
    t.equal(res.json().errors[0].path, path)
  }
})

t.test('GET /v1/audit-events/:id answers the event; an unknown id is 404 and a malformed one 400', async (t) => {
  const s = await scenario()
  const listed = s.events[1] as Event
  const one = await app.inject({ method: 'GET', url: `/v1/audit-events/${listed.id}`, headers: bearer(s.key) })
  t.equal(one.statusCode, 200)
  t.same(one.json(), listed, 'the same event as in the list')

  const missing = await app.inject({ method: 'GET', url: `/v1/audit-events/${randomUUID()}`, headers: bearer(s.key) })
  t.equal(missing.statusCode, 404)
  t.equal(missing.json().code, 'not_found')
  t.match(missing.headers['content-type'], /^application\/problem\+json/)

  const malformed = await app.inject({ method: 'GET', url: '/v1/audit-events/42', headers: bearer(s.key) })
  t.equal(malformed.statusCode, 400)
  t.equal(malformed.json().errors[0].path, '/params/id')
})

t.test('the audit trail is append-only: raw UPDATE, DELETE and TRUNCATE on audit_events are refused by the database', async (t) => {
  const s = await scenario()
  const target = s.events[0] as Event
  const statements = {
    UPDATE: sql`UPDATE audit_events SET action = 'tampered' WHERE id = ${target.id}`,
    DELETE: sql`DELETE FROM audit_events WHERE id = ${target.id}`,
    TRUNCATE: sql`TRUNCATE audit_events`
  }
  for (const [verb, statement] of Object.entries(statements)) {
    const err = await query(db, statement).then(() => null, (e: unknown) => e)
    t.ok(err instanceof Error, `${verb} is refused`)
    t.match(messageOf(err), /audit_events is append-only/, `${verb}: the refusal says why`)
  }

  const after = await app.inject({ method: 'GET', url: '/v1/audit-events', headers: bearer(s.key) })
  t.same(after.json().data, s.events, 'every event is still there, unchanged')
  const count = await query<{ n: number }>(db, sql`SELECT count(*)::int AS n FROM audit_events WHERE action = 'tampered'`)
  t.equal(count[0]?.n, 0)
})
