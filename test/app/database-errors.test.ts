import { randomBytes } from 'node:crypto'
import { Writable } from 'node:stream'
import { sql } from 'drizzle-orm'
import type { FastifyInstance } from 'fastify'
import t, { type Test } from 'tap'
import { buildApp, loggerOptions } from '../../src/app.js'
import { openDatabase, type Database } from '../../src/db/client.js'
import { bearer, expectProblem, freshDatabase, testConfig } from '../helper.js'
import { makeCityWithKey, makeKey } from '../factories.js'
import { report } from '../routes/v1/incidents/fixtures.js'

const SENTINEL = `sentinel-${randomBytes(6).toString('hex')}`

/**
 * The production app and logger, writing into a string, plus test-only routes that send real statements the
 * database refuses, each carrying the sentinel as a parameter.
 */
async function appWithLog (t: Test, database: Database, env: Record<string, string> = {}): Promise<{ app: FastifyInstance, log: () => string }> {
  const config = testConfig({ LOG_LEVEL: 'info', ...env })
  let log = ''
  const stream = new Writable({ write (chunk, _encoding, done) { log += String(chunk); done() } })
  const app = await buildApp({ config, database }, { ...loggerOptions(config), stream })
  const run = (statement: ReturnType<typeof sql>) => async () => { await app.db.execute(statement); return { status: 'ok' } }
  // 22008: a date PostgreSQL cannot hold; 22P02: text that is not a uuid.
  app.get('/test/date-out-of-range', run(sql`SELECT ${'0000-01-01'}::date, ${SENTINEL}::text`))
  app.get('/test/not-a-uuid', run(sql`SELECT ${SENTINEL}::uuid`))
  // 23505: the slug of a city that exists; 23503: a key of a city that does not.
  app.get('/test/unique', run(sql`INSERT INTO cities (id, slug, name) SELECT gen_random_uuid(), slug, ${SENTINEL} FROM cities LIMIT 1`))
  app.get('/test/foreign-key', run(sql`INSERT INTO api_keys (city_id, id, name, display_prefix, secret_hash, scopes)
    VALUES (gen_random_uuid(), gen_random_uuid(), ${SENTINEL}, 'coh_x', ${randomBytes(32).toString('hex')}, '{}')`))
  // 42P01: a defect (a table that does not exist) with the sentinel in its parameters.
  app.get('/test/undefined-table', run(sql`SELECT * FROM no_such_table WHERE name = ${SENTINEL}`))
  t.teardown(async () => { await app.close() })
  await app.ready()
  return { app, log: () => log }
}

t.test('real driver errors are unwrapped and mapped: class 22 is 400, 23505 and 23503 are 409, anything else a 500; the log keeps no value', async (t) => {
  const { database } = await freshDatabase(t)
  const { app, log } = await appWithLog(t, database)
  await makeCityWithKey(database.db)
  const cases: Array<[string, number, string]> = [
    ['/test/date-out-of-range', 400, 'bad_request'],
    ['/test/not-a-uuid', 400, 'bad_request'],
    ['/test/unique', 409, 'conflict'],
    ['/test/foreign-key', 409, 'conflict'],
    ['/test/undefined-table', 500, 'internal_error']
  ]
  for (const [url, status, code] of cases) {
    const res = await app.inject({ method: 'GET', url })
    expectProblem(t, res, status, code, `${database.driver}: ${url}`)
    t.notMatch(res.body, new RegExp(`${SENTINEL}|SELECT|INSERT|no_such_table`), `${url}: the answer says nothing of the statement`)
  }
  const text = log()
  t.notOk(text.includes(SENTINEL), 'no log line holds a parameter of the failed statements')
  t.notMatch(text, /no_such_table WHERE|params:|Failed query/, 'nor the query text')
  const logged = text.split('\n').filter(Boolean).map((line) => JSON.parse(line) as { msg?: string, err?: Record<string, unknown> })
  const defect = logged.find((line) => line.msg === 'request failed')
  t.equal(defect?.err?.sqlstate, '42P01', 'the logged defect keeps its SQLSTATE')
  t.match(String(defect?.err?.stack), /at /, 'and where it happened')
})

t.test('dates PostgreSQL cannot hold are refused by validation first, with the documented range', async (t) => {
  const { database } = await freshDatabase(t)
  const { app } = await appWithLog(t, database)
  const city = await makeCityWithKey(database.db)
  const writer = await makeKey(database.db, city.id, ['incidents:write', 'incidents:read', 'incidents:case'])

  const list = await app.inject({ method: 'GET', url: '/v1/incidents?occurred_from=0000-01-01', headers: bearer(writer.key) })
  expectProblem(t, list, 400, 'validation_failed', 'a filter from year 0')
  t.same(list.json().errors, [{ path: '/query/occurred_from', message: 'must be on or after 1900-01-01' }])
  const since = await app.inject({ method: 'GET', url: '/v1/incidents?updated_since=0000-01-01T00:00:00Z', headers: bearer(writer.key) })
  expectProblem(t, since, 400, 'validation_failed', 'updated_since in year 0')

  const single = await app.inject({ method: 'POST', url: '/v1/incidents', headers: bearer(writer.key), payload: report({ occurred_on: '0000-01-01' }) })
  expectProblem(t, single, 400, 'validation_failed', 'a report from year 0')
  t.same(single.json().errors.map((e: { path: string }) => e.path), ['/body/occurred_on'])

  const batch = await app.inject({ method: 'POST', url: '/v1/incidents/batch', headers: bearer(writer.key), payload: [report({ reported_at: '0000-01-01T00:00:00Z' }), report({ reported_at: new Date(Date.now() + 2 * 86_400_000).toISOString() }), report()] })
  t.equal(batch.statusCode, 200)
  t.same(batch.json().items.map((i: { outcome: string }) => i.outcome), ['rejected', 'rejected', 'created'], 'only the item in range is created')
  t.same(batch.json().items[0].problems, [{ path: '/body/0/reported_at', message: 'must be on or after 1900-01-01' }])
  t.same(batch.json().items[1].problems, [{ path: '/body/1/reported_at', message: 'must not be more than a day ahead' }])
  const early = await app.inject({ method: 'POST', url: '/v1/incidents', headers: bearer(writer.key), payload: report({ occurred_on: '1900-01-01', reported_at: '1900-01-02T00:00:00Z' }) })
  t.equal(early.statusCode, 201, 'the first day of the range is accepted')
})

t.test('with the database unreachable, requests answer a prompt 503 problem with Retry-After, and nothing is logged of them but codes', async (t) => {
  const { database } = await freshDatabase(t)
  const live = await appWithLog(t, database)
  const city = await makeCityWithKey(database.db)
  // A database that cannot be reached: PGlite closed, or a pool pointed at a port nothing listens on.
  let down: Database = database
  if (database.driver === 'pg') {
    down = await openDatabase({ DATABASE_URL: 'postgres://postgres@127.0.0.1:9/cohesion', DATA_DIR: '', DATABASE_POOL_SIZE: 2, DATABASE_CONNECT_TIMEOUT_MS: 1000, DATABASE_STATEMENT_TIMEOUT_MS: 1000 })
    t.teardown(async () => { await down.close() })
  } else {
    await live.app.close()
  }
  const { app, log } = await appWithLog(t, down, { DATABASE_CONNECT_TIMEOUT_MS: '1000' })
  for (const [method, url, payload] of [['GET', '/v1/city', undefined], ['POST', '/v1/incidents', report({ summary: SENTINEL })]] as const) {
    const started = Date.now()
    const res = await app.inject({ method, url, headers: { ...bearer(city.key), 'idempotency-key': `outage-${SENTINEL}` }, ...(payload ? { payload } : {}) })
    const elapsed = Date.now() - started
    expectProblem(t, res, 503, 'service_unavailable', `${method} ${url}`)
    t.ok(Number(res.headers['retry-after']) >= 1, 'Retry-After says when to try again')
    t.ok(elapsed < 2000, `within the connect timeout and a second (${elapsed} ms)`)
  }
  const ready = await app.inject({ method: 'GET', url: '/health/ready' })
  expectProblem(t, ready, 503, 'service_unavailable', 'readiness')
  t.equal((await app.inject({ method: 'GET', url: '/health/live' })).statusCode, 200, 'the process is alive')
  t.notOk(log().includes(SENTINEL), 'the report sent during the outage is not in the log')
  t.notMatch(log(), /"level":50/, 'an outage is not logged as a defect')
})
