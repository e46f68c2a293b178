import { sql } from 'drizzle-orm'
import pg from 'pg'
import t from 'tap'
import { buildApp } from '../../src/app.js'
import { openDatabase, query } from '../../src/db/client.js'
import { bearer, freshDatabase, testConfig } from '../helper.js'
import { makeCityWithKey, makeKey } from '../factories.js'
import { report } from '../routes/v1/incidents/fixtures.js'
import { testDatabaseUrl } from '../template.js'

t.test('a transaction that fails in the database leaves its connection usable: the next request is served', async (t) => {
  const { database } = await freshDatabase(t)
  const app = await buildApp({ config: testConfig(), database }, false)
  t.teardown(async () => { await app.close() })
  app.get('/test/fails-in-transaction', async () => {
    await app.db.transaction(async (tx) => { await tx.execute(sql`SELECT 1 / 0`) })
    return { status: 'ok' }
  })
  await app.ready()
  const city = await makeCityWithKey(database.db)
  for (let i = 0; i < 3; i++) {
    t.equal((await app.inject({ method: 'GET', url: '/test/fails-in-transaction' })).statusCode, 400, 'division by zero is the request\'s fault')
    t.equal((await app.inject({ method: 'GET', url: '/v1/city', headers: bearer(city.key) })).statusCode, 200, 'and the next request is served')
  }
})

// Losing connections is a PostgreSQL matter: the embedded database has no connection to lose (its outage, a
// closed database, is covered in database-errors.test.ts).
if (testDatabaseUrl() !== undefined) {
  const { database: template, url } = await freshDatabase(t)
  await template.close()
  // A short statement timeout, so that a statement blocked by another session fails the way a stalled server does.
  const database = await openDatabase({ DATABASE_URL: url, DATA_DIR: '', DATABASE_POOL_SIZE: 4, DATABASE_CONNECT_TIMEOUT_MS: 2000, DATABASE_STATEMENT_TIMEOUT_MS: 500 })
  const app = await buildApp({ config: testConfig(), database }, false)
  t.teardown(async () => { await app.close() })
  await app.ready()
  const db = database.db
  const pool = (db as unknown as { $client: pg.Pool }).$client
  const admin = new pg.Client({ connectionString: url })
  await admin.connect()
  t.teardown(async () => { await admin.end() })
  const city = await makeCityWithKey(db)
  const writer = await makeKey(db, city.id, ['incidents:write', 'incidents:read'])

  t.test('a connection terminated while a request holds it does not end the process', async (t) => {
    const client = await pool.connect()
    const { rows } = await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')
    // Between two statements, as in a transaction: the server's FATAL arrives as an error event on the
    // checked-out client, which ends the process unless the client has a listener of its own.
    await admin.query('SELECT pg_terminate_backend($1)', [rows[0]?.pid])
    await new Promise((resolve) => setTimeout(resolve, 300))
    const next = await client.query('SELECT 1').then(() => 'answered', (err: Error) => err.message)
    t.match(next, /not queryable|terminat/i, 'the held client reports the lost connection to its user')
    client.release()
    const res = await app.inject({ method: 'GET', url: '/v1/city', headers: bearer(city.key) })
    t.equal(res.statusCode, 200, 'and the process goes on serving')
  })

  t.test('after every connection of the pool is terminated, the same process serves and writes again', async (t) => {
    // Fill the pool, then end all of its server sessions, as a restart of PostgreSQL does.
    await Promise.all([1, 2, 3].map(async () => await app.inject({ method: 'GET', url: '/v1/incidents', headers: bearer(writer.key) })))
    const { rows } = await admin.query("SELECT count(pg_terminate_backend(pid))::int AS n FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'cohesion'")
    t.ok(rows[0].n >= 1, `the pool's sessions were terminated (${String(rows[0].n)})`)
    const answers: number[] = []
    for (let i = 0; i < 6; i++) {
      const res = await app.inject({ method: 'POST', url: '/v1/incidents', headers: bearer(writer.key), payload: report() })
      answers.push(res.statusCode)
    }
    t.notOk(answers.includes(500), `no request failed as a defect (${answers.join(', ')})`)
    t.ok(answers.every((s) => s === 201 || s === 503), 'a request that met a dead connection is a 503 to retry')
    t.equal(answers[answers.length - 1], 201, 'writes succeed again without a restart')
  })

  t.test('an Idempotency-Key claimed by a request that failed on a database error is released: its retry succeeds at once', async (t) => {
    const body = report()
    const headers = { ...bearer(writer.key), 'idempotency-key': 'released-after-failure' }
    // Another session holds the table, so the request's statements time out (SQLSTATE 57014) after it claimed its key.
    await admin.query('BEGIN')
    await admin.query('LOCK TABLE incidents IN ACCESS EXCLUSIVE MODE')
    const failed = await app.inject({ method: 'POST', url: '/v1/incidents', headers, payload: body })
    await admin.query('ROLLBACK')
    t.equal(failed.statusCode, 503, 'the stalled request is a 503 to retry')
    t.ok(Number(failed.headers['retry-after']) >= 1)
    const retried = await app.inject({ method: 'POST', url: '/v1/incidents', headers, payload: body })
    t.equal(retried.statusCode, 201, 'the retry runs again (not 409 "in flight")')
    const replay = await app.inject({ method: 'POST', url: '/v1/incidents', headers, payload: body })
    t.equal(replay.headers['idempotent-replayed'], 'true', 'and from then on the answer is replayed')
    const [stored] = await query<{ n: number }>(db, sql`SELECT count(*)::int AS n FROM incidents WHERE city_id = ${city.id} AND external_id = ${body.external_id as string}`)
    t.equal(stored?.n, 1, 'the report is stored once')
  })
}
