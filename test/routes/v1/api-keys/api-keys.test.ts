import { createHash } from 'node:crypto'
import { sql } from 'drizzle-orm'
import t from 'tap'
import { query } from '../../../../src/db/client.js'
import { bearer, build } from '../../../helper.js'
import { makeCity, makeCityWithKey, makeKey } from '../../../factories.js'

const { app, database } = await build(t)
const db = database.db

interface Created { id: string, key: string, [field: string]: unknown }

async function createKey (adminKey: string, body: Record<string, unknown>): Promise<Created> {
  const res = await app.inject({ method: 'POST', url: '/v1/api-keys', headers: bearer(adminKey), payload: body })
  if (res.statusCode !== 201) throw new Error(`create answered ${res.statusCode}: ${res.body}`)
  return res.json()
}

const ids = (body: { data: Array<{ id: string }> }): string[] => body.data.map((k) => k.id)

t.test('POST /v1/api-keys answers 201 with Location and the secret, which no later read ever shows again', async (t) => {
  const city = await makeCityWithKey(db)
  const res = await app.inject({ method: 'POST', url: '/v1/api-keys', headers: bearer(city.key), payload: { name: 'Resident portal', scopes: ['incidents:write'] } })
  t.equal(res.statusCode, 201)
  const created = res.json()
  t.match(created.id, /^[0-9a-f-]{36}$/)
  t.equal(res.headers.location, `/v1/api-keys/${created.id}`)
  t.match(created.key, /^coh_[A-Za-z0-9_-]{32,}$/, 'the secret has the recognisable prefix and enough randomness')
  t.equal(created.display_prefix, created.key.slice(0, 12), 'display_prefix is the first 12 characters of the key')
  t.equal(created.name, 'Resident portal')
  t.same(created.scopes, ['incidents:write'])
  t.equal(created.sources, null)
  t.equal(created.created_by_key_id, city.keyId)
  t.equal(created.revoked_at, null)
  t.equal(created.expires_at, null)

  const one = await app.inject({ method: 'GET', url: `/v1/api-keys/${created.id}`, headers: bearer(city.key) })
  t.equal(one.statusCode, 200)
  t.notOk('key' in one.json(), 'GET one has no key field')
  t.notOk(one.body.includes(created.key), 'GET one never carries the secret')
  t.notMatch(one.body, /"key"\s*:/, 'the raw JSON of GET one has no "key" member')
  t.equal(one.json().display_prefix, created.display_prefix)

  const list = await app.inject({ method: 'GET', url: '/v1/api-keys', headers: bearer(city.key) })
  t.equal(list.statusCode, 200)
  t.ok(ids(list.json()).includes(created.id))
  t.notOk(list.body.includes(created.key), 'the list never carries the secret')
  t.notMatch(list.body, /"key"\s*:/, 'the raw JSON of the list has no "key" member')
  for (const item of list.json().data) t.notOk('key' in item)
})

t.test('a newly created key authenticates at once', async (t) => {
  const city = await makeCityWithKey(db)
  const created = await createKey(city.key, { name: 'portal', scopes: ['incidents:write'] })
  const res = await app.inject({ method: 'GET', url: '/v1/city', headers: bearer(created.key) })
  t.equal(res.statusCode, 200)
  t.equal(res.json().id, city.id, 'the new key belongs to the creator\'s city')
})

t.test('the database keeps only a SHA-256 hex hash of the secret, never the secret itself', async (t) => {
  const city = await makeCityWithKey(db)
  const created = await createKey(city.key, { name: 'analyst', scopes: ['exports:read'] })
  const rows = await query<Record<string, unknown>>(db, sql`SELECT * FROM api_keys WHERE city_id = ${city.id} AND id = ${created.id}`)
  t.equal(rows.length, 1)
  const row = rows[0] as Record<string, unknown>
  t.equal(row.secret_hash, createHash('sha256').update(created.key).digest('hex'))
  t.match(row.secret_hash, /^[0-9a-f]{64}$/)
  const raw = JSON.stringify(row)
  t.notOk(raw.includes(created.key), 'the plaintext key is in no column')
  t.notOk(raw.includes(created.key.slice(4)), 'the random part of the key is in no column')
  t.equal(row.display_prefix, created.key.slice(0, 12), 'only the short display prefix is kept in clear')
})

t.test('GET /v1/api-keys lists newest first and pages with limit and next_cursor through every key exactly once', async (t) => {
  const city = await makeCityWithKey(db)
  const made = [city.keyId]
  for (let i = 0; i < 4; i++) made.push((await createKey(city.key, { name: `key ${i}`, scopes: ['kpis:read'] })).id)
  const newestFirst = [...made].reverse()

  const all = await app.inject({ method: 'GET', url: '/v1/api-keys', headers: bearer(city.key) })
  t.same(ids(all.json()), newestFirst, 'newest first')
  t.equal(all.json().next_cursor, null, 'one page holds everything')

  const seen: string[] = []
  const pageSizes: number[] = []
  let cursor: string | null = null
  do {
    const url: string = `/v1/api-keys?limit=2${cursor !== null ? `&cursor=${encodeURIComponent(cursor)}` : ''}`
    const page = await app.inject({ method: 'GET', url, headers: bearer(city.key) })
    t.equal(page.statusCode, 200)
    const body = page.json()
    t.ok(body.data.length <= 2, 'a page holds at most limit items')
    pageSizes.push(body.data.length)
    seen.push(...ids(body))
    cursor = body.next_cursor
  } while (cursor !== null && seen.length < 20)
  t.same(pageSizes, [2, 2, 1])
  t.same(seen, newestFirst, 'the pages together are the whole list, in order, without duplicates')
  t.equal(new Set(seen).size, seen.length)
})

t.test('GET /v1/api-keys?state= filters active, revoked and expired keys', async (t) => {
  const city = await makeCityWithKey(db)
  const active = await createKey(city.key, { name: 'active', scopes: ['kpis:read'], expires_at: new Date(Date.now() + 86_400_000).toISOString() })
  const revoked = await createKey(city.key, { name: 'revoked', scopes: ['kpis:read'] })
  t.equal((await app.inject({ method: 'DELETE', url: `/v1/api-keys/${revoked.id}`, headers: bearer(city.key) })).statusCode, 204)
  const expired = await makeKey(db, city.id, ['kpis:read'], { expiresAt: new Date(Date.now() - 60_000) })

  const state = async (s: string): Promise<string[]> => {
    const res = await app.inject({ method: 'GET', url: `/v1/api-keys?state=${s}`, headers: bearer(city.key) })
    t.equal(res.statusCode, 200)
    return ids(res.json()).sort()
  }
  t.same(await state('active'), [city.keyId, active.id].sort())
  t.same(await state('revoked'), [revoked.id])
  t.same(await state('expired'), [expired.id])
  const bad = await app.inject({ method: 'GET', url: '/v1/api-keys?state=lost', headers: bearer(city.key) })
  t.equal(bad.statusCode, 400)
  t.equal(bad.json().errors[0].path, '/query/state')
})

t.test('DELETE /v1/api-keys/:id revokes: 204, the key is refused at once, and the record stays readable', async (t) => {
  const city = await makeCityWithKey(db)
  const victim = await createKey(city.key, { name: 'leaked', scopes: ['incidents:read'] })
  // Use it first, so that the auth cache holds it: the revoke must still take effect at once.
  t.equal((await app.inject({ method: 'GET', url: '/v1/city', headers: bearer(victim.key) })).statusCode, 200)

  const del = await app.inject({ method: 'DELETE', url: `/v1/api-keys/${victim.id}`, headers: bearer(city.key) })
  t.equal(del.statusCode, 204)
  t.equal(del.body, '')

  const after = await app.inject({ method: 'GET', url: '/v1/city', headers: bearer(victim.key) })
  t.equal(after.statusCode, 401)
  t.equal(after.json().code, 'unauthorized')

  const record = await app.inject({ method: 'GET', url: `/v1/api-keys/${victim.id}`, headers: bearer(city.key) })
  t.equal(record.statusCode, 200)
  t.equal(record.json().id, victim.id)
  t.match(record.json().revoked_at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/)
})

t.test('revoking a key twice keeps the first revoked_at', async (t) => {
  const city = await makeCityWithKey(db)
  const victim = await createKey(city.key, { name: 'twice', scopes: ['plans:read'] })
  t.equal((await app.inject({ method: 'DELETE', url: `/v1/api-keys/${victim.id}`, headers: bearer(city.key) })).statusCode, 204)
  const first = (await app.inject({ method: 'GET', url: `/v1/api-keys/${victim.id}`, headers: bearer(city.key) })).json().revoked_at
  t.type(first, 'string')
  await new Promise((resolve) => setTimeout(resolve, 20))
  t.equal((await app.inject({ method: 'DELETE', url: `/v1/api-keys/${victim.id}`, headers: bearer(city.key) })).statusCode, 204)
  const second = (await app.inject({ method: 'GET', url: `/v1/api-keys/${victim.id}`, headers: bearer(city.key) })).json().revoked_at
  t.equal(second, first)
})

t.test('an expired key answers 401', async (t) => {
  const city = await makeCity(db)
  const expired = await makeKey(db, city.id, ['admin'], { expiresAt: new Date(Date.now() - 1000) })
  const res = await app.inject({ method: 'GET', url: '/v1/city', headers: bearer(expired.key) })
  t.equal(res.statusCode, 401)
  t.equal(res.json().code, 'unauthorized')
  const live = await makeKey(db, city.id, ['admin'], { expiresAt: new Date(Date.now() + 60_000) })
  t.equal((await app.inject({ method: 'GET', url: '/v1/city', headers: bearer(live.key) })).statusCode, 200, 'a key before its expiry works')
})

t.test('POST /v1/api-keys refuses an expires_at in the past with 400 and creates nothing', async (t) => {
  const city = await makeCityWithKey(db)
  const res = await app.inject({ method: 'POST', url: '/v1/api-keys', headers: bearer(city.key), payload: { name: 'late', scopes: ['kpis:read'], expires_at: new Date(Date.now() - 60_000).toISOString() } })
  t.equal(res.statusCode, 400)
  t.equal(res.json().code, 'validation_failed')
  t.same(res.json().errors, [{ path: '/body/expires_at', message: 'must be in the future' }])
  const list = await app.inject({ method: 'GET', url: '/v1/api-keys', headers: bearer(city.key) })
  t.same(ids(list.json()), [city.keyId])
})

t.test('admin can grant ordinary scopes but not a personal-data scope it does not hold (403)', async (t) => {
  const city = await makeCityWithKey(db)
  const ok = await app.inject({ method: 'POST', url: '/v1/api-keys', headers: bearer(city.key), payload: { name: 'writer', scopes: ['incidents:write'] } })
  t.equal(ok.statusCode, 201)
  const personal = await app.inject({ method: 'POST', url: '/v1/api-keys', headers: bearer(city.key), payload: { name: 'reader', scopes: ['incidents:read', 'incidents:read_personal'] } })
  t.equal(personal.statusCode, 403)
  t.equal(personal.json().code, 'forbidden')
  t.match(personal.json().detail, /incidents:read_personal/)
  t.notMatch(personal.json().detail, /incidents:read(?!_)/, 'only the ungranted scope is named')
  const count = await query<{ n: number }>(db, sql`SELECT count(*)::int AS n FROM api_keys WHERE city_id = ${city.id}`)
  t.equal(count[0]?.n, 2, 'the refused key was not stored')
})

t.test('a key holding admin and incidents:read_personal can grant incidents:read_personal', async (t) => {
  const city = await makeCity(db)
  const holder = await makeKey(db, city.id, ['admin', 'incidents:read_personal'])
  const res = await app.inject({ method: 'POST', url: '/v1/api-keys', headers: bearer(holder.key), payload: { name: 'case worker', scopes: ['incidents:read_personal'] } })
  t.equal(res.statusCode, 201)
  t.same(res.json().scopes, ['incidents:read_personal'])
})

t.test('a key without admin cannot create keys (403 naming admin)', async (t) => {
  const city = await makeCityWithKey(db, ['incidents:write', 'incidents:read', 'incidents:case'])
  const res = await app.inject({ method: 'POST', url: '/v1/api-keys', headers: bearer(city.key), payload: { name: 'escalate', scopes: ['incidents:read'] } })
  t.equal(res.statusCode, 403)
  t.match(res.json().detail, /admin/)
  const count = await query<{ n: number }>(db, sql`SELECT count(*)::int AS n FROM api_keys WHERE city_id = ${city.id}`)
  t.equal(count[0]?.n, 1)
})

t.test('a key created with sources reports them', async (t) => {
  const city = await makeCityWithKey(db)
  const created = await createKey(city.key, { name: 'ngo import', scopes: ['incidents:write'], sources: ['ngo-a'] })
  t.same(created.sources, ['ngo-a'])
  const one = await app.inject({ method: 'GET', url: `/v1/api-keys/${created.id}`, headers: bearer(city.key) })
  t.same(one.json().sources, ['ngo-a'])
})

t.test('a sources-limited admin key cannot grant other sources, and its keys inherit its sources', async (t) => {
  const city = await makeCity(db)
  const limited = await makeKey(db, city.id, ['admin'], { sources: ['ngo-a'] })
  const foreign = await app.inject({ method: 'POST', url: '/v1/api-keys', headers: bearer(limited.key), payload: { name: 'other', scopes: ['incidents:write'], sources: ['ngo-b'] } })
  t.equal(foreign.statusCode, 403)
  t.equal(foreign.json().code, 'forbidden')
  t.match(foreign.json().detail, /ngo-b/)
  const mixed = await app.inject({ method: 'POST', url: '/v1/api-keys', headers: bearer(limited.key), payload: { name: 'mixed', scopes: ['incidents:write'], sources: ['ngo-a', 'ngo-b'] } })
  t.equal(mixed.statusCode, 403, 'one foreign source is enough to refuse')

  const inherited = await createKey(limited.key, { name: 'inherits', scopes: ['incidents:write'] })
  t.same(inherited.sources, ['ngo-a'])
  const own = await createKey(limited.key, { name: 'own', scopes: ['incidents:write'], sources: ['ngo-a'] })
  t.same(own.sources, ['ngo-a'])
})

t.test('create and revoke write api_key.created and api_key.revoked audit events naming the actor key, with no secret', async (t) => {
  const city = await makeCityWithKey(db)
  const created = await createKey(city.key, { name: 'audited', scopes: ['kpis:read'], sources: ['ngo-a'] })
  t.equal((await app.inject({ method: 'DELETE', url: `/v1/api-keys/${created.id}`, headers: bearer(city.key) })).statusCode, 204)

  const res = await app.inject({ method: 'GET', url: `/v1/audit-events?object_type=api_key&object_id=${created.id}`, headers: bearer(city.key) })
  t.equal(res.statusCode, 200)
  const events = res.json().data
  t.same(events.map((e: { action: string }) => e.action), ['api_key.revoked', 'api_key.created'])
  for (const event of events) {
    t.equal(event.actor_type, 'api_key')
    t.equal(event.actor_key_id, city.keyId)
    t.equal(event.object_id, created.id)
    t.type(event.request_id, 'string')
  }
  t.same(events[1].details, { scopes: ['kpis:read'], sources: ['ngo-a'] })
  t.notOk(res.body.includes(created.key), 'no secret in the audit trail as served')
  t.notOk(res.body.includes(created.key.slice(4)), 'no part of the secret beyond its prefix either')

  const raw = await query<Record<string, unknown>>(db, sql`SELECT * FROM audit_events WHERE city_id = ${city.id}`)
  t.notOk(JSON.stringify(raw).includes(created.key.slice(4)), 'no secret in the stored audit rows')
})
