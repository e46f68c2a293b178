import { randomBytes } from 'node:crypto'
import { sql } from 'drizzle-orm'
import type { LightMyRequestResponse } from 'fastify'
import t from 'tap'
import { query } from '../../src/db/client.js'
import { bearer, build } from '../helper.js'
import { makeCityWithKey, makeKey } from '../factories.js'

// POST /v1/api-keys is the POST under test: its response carries a secret, so a replay must return the very
// same one (a second key would be a second credential the client never learns about).
const { app, database } = await build(t)
const db = database.db

const idem = (key: string, value: string): Record<string, string> => ({ ...bearer(key), 'idempotency-key': value })
const newIdemKey = (): string => `idem-${randomBytes(6).toString('hex')}`

async function post (headers: Record<string, string>, body: Record<string, unknown>): Promise<LightMyRequestResponse> {
  return await app.inject({ method: 'POST', url: '/v1/api-keys', headers, payload: body })
}

async function keyCount (cityId: string): Promise<number> {
  const [row] = await query<{ n: number }>(db, sql`SELECT count(*)::int AS n FROM api_keys WHERE city_id = ${cityId}`)
  return row?.n ?? -1
}

async function storedRows (cityId: string, apiKeyId: string, key: string): Promise<Array<Record<string, unknown>>> {
  return await query(db, sql`SELECT * FROM idempotency_keys WHERE city_id = ${cityId} AND api_key_id = ${apiKeyId} AND key = ${key}`)
}

t.test('the same Idempotency-Key with the same body replays the first response, secret included, and creates one key', async (t) => {
  const city = await makeCityWithKey(db)
  const k = newIdemKey()
  const body = { name: 'Resident portal', scopes: ['incidents:write'] }
  const first = await post(idem(city.key, k), body)
  t.equal(first.statusCode, 201)
  t.equal(first.headers['idempotent-replayed'], undefined, 'the first response is not a replay')

  const again = await post(idem(city.key, k), body)
  t.equal(again.statusCode, 201)
  t.equal(again.headers['idempotent-replayed'], 'true')
  t.equal(again.body, first.body, 'byte for byte the first body')
  t.equal(again.json().id, first.json().id)
  t.equal(again.json().key, first.json().key, 'the same secret, not a new key')
  t.equal(again.headers.location, first.headers.location)
  t.equal(again.headers['content-type'], first.headers['content-type'])
  t.equal(await keyCount(city.id), 2, 'the admin key and exactly one created key')

  const third = await post(idem(city.key, k), body)
  t.equal(third.json().id, first.json().id, 'every retry replays the same response')
  t.equal(await keyCount(city.id), 2)
  t.equal((await app.inject({ method: 'GET', url: '/v1/city', headers: bearer(again.json().key) })).statusCode, 200, 'the replayed secret is the working key')
})

t.test('POSTs without an Idempotency-Key are not deduplicated', async (t) => {
  const city = await makeCityWithKey(db)
  const body = { name: 'twice', scopes: ['kpis:read'] }
  const a = await post(bearer(city.key), body)
  const b = await post(bearer(city.key), body)
  t.equal(a.statusCode, 201)
  t.equal(b.statusCode, 201)
  t.not(a.json().id, b.json().id)
  t.equal(b.headers['idempotent-replayed'], undefined)
  t.equal(await keyCount(city.id), 3)
})

t.test('the same Idempotency-Key with a different body is 422 idempotency_key_reused and creates nothing', async (t) => {
  const city = await makeCityWithKey(db)
  const k = newIdemKey()
  t.equal((await post(idem(city.key, k), { name: 'first', scopes: ['kpis:read'] })).statusCode, 201)
  const reused = await post(idem(city.key, k), { name: 'second', scopes: ['kpis:read'] })
  t.equal(reused.statusCode, 422)
  t.equal(reused.json().code, 'idempotency_key_reused')
  t.match(reused.headers['content-type'], /^application\/problem\+json/)
  t.notOk(reused.json().key, 'no secret in the refusal')
  t.equal(await keyCount(city.id), 2)
})

t.test('while the first request is in flight a retry is 409 idempotency_in_flight with Retry-After; once its lock lapses the key is claimed again', async (t) => {
  const city = await makeCityWithKey(db)
  const k = newIdemKey()
  const body = { name: 'slow', scopes: ['kpis:read'] }
  const first = await post(idem(city.key, k), body)
  t.equal(first.statusCode, 201)
  // Put the row back in the state it has while its request runs: claimed with this body's fingerprint,
  // no response yet, locked.
  await query(db, sql`UPDATE idempotency_keys SET response_status = NULL, response_headers = NULL, response_body = NULL,
    locked_until = now() + interval '5 minutes' WHERE city_id = ${city.id} AND api_key_id = ${city.keyId} AND key = ${k}`)

  const busy = await post(idem(city.key, k), body)
  t.equal(busy.statusCode, 409)
  t.equal(busy.json().code, 'idempotency_in_flight')
  t.equal(busy.headers['retry-after'], '1')
  t.match(busy.headers['content-type'], /^application\/problem\+json/)

  const other = await post(idem(city.key, k), { name: 'another body', scopes: ['kpis:read'] })
  t.equal(other.statusCode, 422, 'a different body is refused as reuse even while the first is in flight')
  t.equal(other.json().code, 'idempotency_key_reused')
  t.equal(await keyCount(city.id), 2, 'neither refused retry created a key')

  // A request still locked after LOCK_SECONDS is taken to have died: its retry runs again.
  await query(db, sql`UPDATE idempotency_keys SET locked_until = now() - interval '1 second'
    WHERE city_id = ${city.id} AND api_key_id = ${city.keyId} AND key = ${k}`)
  const rerun = await post(idem(city.key, k), body)
  t.equal(rerun.statusCode, 201)
  t.equal(rerun.headers['idempotent-replayed'], undefined)
  const [row] = await storedRows(city.id, city.keyId, k)
  t.equal(row?.response_status, 201, 'the rerun stored its response')
  t.equal(row?.locked_until, null, 'and released the lock')
  const replay = await post(idem(city.key, k), body)
  t.equal(replay.headers['idempotent-replayed'], 'true')
  t.equal(replay.json().id, rerun.json().id)
})

t.test('concurrent requests with the same Idempotency-Key never create two keys', async (t) => {
  const city = await makeCityWithKey(db)
  let created = 0
  for (let round = 0; round < 5; round++) {
    const k = newIdemKey()
    const body = { name: `race ${round}`, scopes: ['kpis:read'] }
    const responses = await Promise.all([post(idem(city.key, k), body), post(idem(city.key, k), body), post(idem(city.key, k), body)])
    const originals = responses.filter((r) => r.statusCode === 201 && r.headers['idempotent-replayed'] === undefined)
    t.equal(originals.length, 1, `round ${round}: exactly one request ran`)
    const id = originals[0]?.json().id as string
    for (const r of responses) {
      if (r === originals[0]) continue
      if (r.statusCode === 409) {
        t.equal(r.json().code, 'idempotency_in_flight')
        t.equal(r.headers['retry-after'], '1')
      } else {
        t.equal(r.statusCode, 201, `round ${round}: the other answer is 409 or a replay`)
        t.equal(r.headers['idempotent-replayed'], 'true')
        t.equal(r.json().id, id, 'a replay of the same key')
      }
    }
    created++
    t.equal(await keyCount(city.id), 1 + created, `round ${round}: one key was created`)
  }
})

t.test('Idempotency-Keys are scoped to the API key: another key using the same value creates its own object', async (t) => {
  const city = await makeCityWithKey(db)
  const other = await makeKey(db, city.id, ['admin'])
  const k = newIdemKey()
  const body = { name: 'shared value', scopes: ['kpis:read'] }
  const mine = await post(idem(city.key, k), body)
  const theirs = await post(idem(other.key, k), body)
  t.equal(mine.statusCode, 201)
  t.equal(theirs.statusCode, 201)
  t.equal(theirs.headers['idempotent-replayed'], undefined, 'not a replay of another key\'s response')
  t.not(theirs.json().id, mine.json().id)
  t.not(theirs.json().key, mine.json().key, 'no key ever receives a secret created for another')
  t.equal(theirs.json().created_by_key_id, other.id)
  t.equal(await keyCount(city.id), 4)

  const differentBody = await post(idem(other.key, k), { name: 'changed', scopes: ['kpis:read'] })
  t.equal(differentBody.statusCode, 422, 'each key holds its own record of what the value meant')
  const mineAgain = await post(idem(city.key, k), body)
  t.equal(mineAgain.json().id, mine.json().id)
})

t.test('the stored response is encrypted: the idempotency_keys row holds neither the secret nor the name', async (t) => {
  const city = await makeCityWithKey(db)
  const k = newIdemKey()
  const name = `Distinctive portal ${randomBytes(4).toString('hex')}`
  const res = await post(idem(city.key, k), { name, scopes: ['incidents:write'] })
  t.equal(res.statusCode, 201)
  const secret = res.json().key as string
  const rows = await storedRows(city.id, city.keyId, k)
  t.equal(rows.length, 1)
  const row = rows[0] as Record<string, unknown>
  t.equal(row.response_status, 201)
  const stored = Buffer.from(row.response_body as Uint8Array)
  t.ok(stored.length > 0)
  for (const text of [secret, secret.slice(4), name, res.json().display_prefix]) {
    t.equal(stored.indexOf(Buffer.from(text)), -1, `the stored body does not contain ${text === secret ? 'the secret' : JSON.stringify(text === name ? 'the name' : 'a part of the secret')}`)
  }
  t.notOk(stored.toString('latin1').includes('"key"'), 'no JSON in clear')
  t.notOk(JSON.stringify(row).includes(secret.slice(4)), 'no column holds the secret')
  t.notOk(JSON.stringify(row).includes(name), 'no column holds the name')
})

t.test('an expired Idempotency-Key row no longer binds: the key can be used afresh', async (t) => {
  const city = await makeCityWithKey(db)
  const k = newIdemKey()
  const first = await post(idem(city.key, k), { name: 'old', scopes: ['kpis:read'] })
  t.equal(first.statusCode, 201)
  await query(db, sql`UPDATE idempotency_keys SET expires_at = now() - interval '1 second'
    WHERE city_id = ${city.id} AND api_key_id = ${city.keyId} AND key = ${k}`)
  const fresh = await post(idem(city.key, k), { name: 'new', scopes: ['kpis:read'] })
  t.equal(fresh.statusCode, 201, 'a different body is not 422 once the row has expired')
  t.equal(fresh.headers['idempotent-replayed'], undefined)
  t.not(fresh.json().id, first.json().id)
  t.equal(fresh.json().name, 'new')
  const replay = await post(idem(city.key, k), { name: 'new', scopes: ['kpis:read'] })
  t.equal(replay.headers['idempotent-replayed'], 'true', 'the fresh use is what the key now replays')
  t.equal(replay.json().id, fresh.json().id)
  t.equal(await keyCount(city.id), 3)
})

t.test('a request refused by validation stores nothing, so the same Idempotency-Key works once the body is fixed', async (t) => {
  const city = await makeCityWithKey(db)
  const k = newIdemKey()
  const bad = await post(idem(city.key, k), { name: '', scopes: [] })
  t.equal(bad.statusCode, 400)
  t.equal(bad.json().code, 'validation_failed')
  t.same(await storedRows(city.id, city.keyId, k), [], 'no idempotency row was written')
  const good = await post(idem(city.key, k), { name: 'fixed', scopes: ['kpis:read'] })
  t.equal(good.statusCode, 201)
  t.equal(good.headers['idempotent-replayed'], undefined)
  t.equal(await keyCount(city.id), 2)
})

t.test('an invalid Idempotency-Key header is 400 and creates nothing', async (t) => {
  const city = await makeCityWithKey(db)
  for (const [what, value] of [['300 characters', 'a'.repeat(300)], ['a space', 'has space'], ['a control character', 'tab\there']]) {
    const res = await post(idem(city.key, value as string), { name: 'x', scopes: ['kpis:read'] })
    t.equal(res.statusCode, 400, `${what as string}: 400`)
    t.equal(res.json().code, 'validation_failed')
    t.equal(res.json().errors[0].path, '/headers/idempotency-key')
  }
  t.equal(await keyCount(city.id), 1)
  const [rows] = await query<{ n: number }>(db, sql`SELECT count(*)::int AS n FROM idempotency_keys WHERE city_id = ${city.id}`)
  t.equal(rows?.n, 0)
})
