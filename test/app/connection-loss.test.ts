import { sql } from 'drizzle-orm'
import pg from 'pg'
import t, { type Test } from 'tap'
import { buildApp } from '../../src/app.js'
import { openDatabase, query } from '../../src/db/client.js'
import { bearer, freshDatabase, testConfig } from '../helper.js'
import { makeCityWithKey, makeKey } from '../factories.js'
import { report } from '../routes/v1/incidents/fixtures.js'
import { testDatabaseUrl } from '../template.js'

/*
 * Every subtest owns what it breaks: its own database, pool, app and admin connection, opened in the subtest and
 * closed by its teardown, and it terminates only the server sessions of its own pool, by the pids its own clients
 * were given. Nothing is opened at module level: the file's root test registers no teardown, so it never ends on
 * its own while a subtest or its setup is still running (tap ends a root test that has a teardown as soon as it
 * is idle between two subtests, and would run that teardown, DROP DATABASE ... WITH (FORCE), under the setup).
 */

const POOL_SIZE = 4

// Losing connections is a PostgreSQL matter: the embedded database has no connection to lose (its outage, a
// closed database, is covered in database-errors.test.ts).
/** A subtest about lost connections: PostgreSQL's matter, defined only there (the embedded database has no connection to lose). */
const onPostgres = (name: string, fn: (t: Test) => Promise<void>): void => {
  if (testDatabaseUrl() !== undefined) t.test(name, fn)
}

/** The backend pid a pg client was given when it connected (its BackendKeyData, which pg keeps for cancelling). */
const pidOf = (client: pg.ClientBase): number => (client as pg.ClientBase & { processID: number }).processID

/** Resolves when the client's connection has ended and the client has told its listeners (and its pool) so. */
const endOf = async (client: pg.ClientBase): Promise<void> => { await new Promise((resolve) => client.once('end', resolve)) }

/**
 * The production app on a database of the subtest's own, with a pool of POOL_SIZE whose every connection's pid is
 * recorded, and an admin connection to the same database. Teardowns run last-registered first: the app (and its
 * pool), then the admin connection, then freshDatabase drops the database.
 */
async function ownApp (t: Test) {
  const { database: opened, url } = await freshDatabase(t)
  await opened.close()
  if (url === undefined) throw new Error('a PostgreSQL database was expected')
  const database = await openDatabase({ DATABASE_URL: url, DATA_DIR: '', DATABASE_POOL_SIZE: POOL_SIZE, DATABASE_CONNECT_TIMEOUT_MS: 5000, DATABASE_STATEMENT_TIMEOUT_MS: 30000 })
  const pool = (database.db as unknown as { $client: pg.Pool }).$client
  const pids = new Set<number>()
  pool.on('connect', (client) => { pids.add(pidOf(client)) })
  const app = await buildApp({ config: testConfig(), database }, false)
  t.teardown(async () => { await app.close() })
  await app.ready()
  const admin = new pg.Client({ connectionString: url })
  await admin.connect()
  t.teardown(async () => { await admin.end() })
  const own = (targets: number[]): number[] => {
    for (const pid of targets) if (!pids.has(pid)) throw new Error(`pid ${pid} is not a session of this subtest's pool`)
    return targets
  }
  /** Ends these sessions of the pool and returns once the server has ended each of them. */
  const terminate = async (targets: number[]): Promise<boolean[]> => {
    const { rows } = await admin.query<{ ended: boolean }>('SELECT pg_terminate_backend(pid, 60000) AS ended FROM unnest($1::int[]) AS pid', [own(targets)])
    return rows.map((r) => r.ended)
  }
  /** Cancels the statement this session of the pool runs (SQLSTATE 57014, as a statement timeout does). */
  const cancel = async (pid: number): Promise<boolean> =>
    (await admin.query<{ cancelled: boolean }>('SELECT pg_cancel_backend($1) AS cancelled', own([pid]))).rows[0]?.cancelled === true
  /**
   * Holds the incidents table (ACCESS EXCLUSIVE, in a transaction of the admin connection) while `request` runs,
   * until the session of the pool that serves it waits for the table; then answers that session's pid, or
   * undefined when the request was answered without waiting. The caller ends the hold with ROLLBACK.
   */
  const blockedOnIncidents = async (request: Promise<unknown>): Promise<number | undefined> => {
    let answered = false
    request.finally(() => { answered = true }).catch(() => {})
    for (;;) {
      const { rows } = await admin.query<{ pid: number }>("SELECT pid FROM pg_locks WHERE NOT granted AND relation = 'incidents'::regclass AND pid = ANY($1::int[])", [[...pids]])
      if (rows[0] !== undefined) return rows[0].pid
      if (answered) return undefined
    }
  }
  const holdIncidents = async (): Promise<void> => {
    await admin.query('BEGIN')
    await admin.query('LOCK TABLE incidents IN ACCESS EXCLUSIVE MODE')
  }
  return { app, database, db: database.db, pool, admin, pids, terminate, cancel, holdIncidents, blockedOnIncidents }
}

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

onPostgres('a connection terminated while a request holds it does not end the process', async (t) => {
  const { app, db, pool, terminate } = await ownApp(t)
  const city = await makeCityWithKey(db)
  const client = await pool.connect()
  const ended = endOf(client)
  // Between two statements, as in a transaction: the server's FATAL arrives as an error event on the
  // checked-out client, which ends the process unless the client has a listener of its own.
  t.same(await terminate([pidOf(client)]), [true], 'the server ended the session')
  await ended
  const next = await client.query('SELECT 1').then(() => 'answered', (err: Error) => err.message)
  t.match(next, /not queryable|terminat/i, 'the held client reports the lost connection to its user')
  client.release()
  const res = await app.inject({ method: 'GET', url: '/v1/city', headers: bearer(city.key) })
  t.equal(res.statusCode, 200, 'and the process goes on serving')
})

onPostgres('after every connection of the pool is terminated, the same process serves and writes again', async (t) => {
  const { app, db, pool, terminate } = await ownApp(t)
  const city = await makeCityWithKey(db)
  const writer = await makeKey(db, city.id, ['incidents:write', 'incidents:read', 'incidents:case'])
  // Fill the pool, then end all of its server sessions, as a restart of PostgreSQL does.
  const clients = await Promise.all(Array.from({ length: POOL_SIZE }, async () => await pool.connect()))
  const ended = Promise.all(clients.map(endOf))
  for (const client of clients) client.release()
  t.equal(pool.idleCount, POOL_SIZE, 'the pool holds its full count of idle connections')
  t.same(await terminate(clients.map(pidOf)), clients.map(() => true), 'the server ended every session of the pool')
  await ended
  t.equal(pool.totalCount, 0, 'the pool has let go of every dead connection')
  const answers: number[] = []
  for (let i = 0; i < 6; i++) {
    const res = await app.inject({ method: 'POST', url: '/v1/incidents', headers: bearer(writer.key), payload: report() })
    answers.push(res.statusCode)
  }
  t.same(answers, [201, 201, 201, 201, 201, 201], 'writes succeed again without a restart')
})

onPostgres('a request whose connection is terminated in the middle of its transaction is a 503 to retry, and its retry is written', async (t) => {
  const { app, db, admin, terminate, holdIncidents, blockedOnIncidents } = await ownApp(t)
  const city = await makeCityWithKey(db)
  const writer = await makeKey(db, city.id, ['incidents:write', 'incidents:read', 'incidents:case'])
  const body = report()
  // Another session holds the table, so the request waits on it, inside its transaction, until it is ended.
  await holdIncidents()
  const pending = app.inject({ method: 'POST', url: '/v1/incidents', headers: bearer(writer.key), payload: body })
  const waiting = await blockedOnIncidents(pending)
  if (waiting !== undefined) t.same(await terminate([waiting]), [true], 'the server ended the session of the waiting request')
  await admin.query('ROLLBACK')
  const failed = await pending
  t.not(waiting, undefined, 'the request waited for the table')
  t.equal(failed.statusCode, 503, 'the request that met a dead connection is a 503, not a 500')
  t.ok(Number(failed.headers['retry-after']) >= 1, 'with Retry-After')
  const retried = await app.inject({ method: 'POST', url: '/v1/incidents', headers: bearer(writer.key), payload: body })
  t.equal(retried.statusCode, 201, 'its retry is written')
  const [stored] = await query<{ n: number }>(db, sql`SELECT count(*)::int AS n FROM incidents WHERE city_id = ${city.id} AND external_id = ${body.external_id as string}`)
  t.equal(stored?.n, 1, 'once')
})

onPostgres('an Idempotency-Key claimed by a request that failed on a database error is released: its retry succeeds at once', async (t) => {
  const { app, db, admin, cancel, holdIncidents, blockedOnIncidents } = await ownApp(t)
  const city = await makeCityWithKey(db)
  const writer = await makeKey(db, city.id, ['incidents:write', 'incidents:read', 'incidents:case'])
  const body = report()
  const headers = { ...bearer(writer.key), 'idempotency-key': 'released-after-failure' }
  // Another session holds the table, so the request waits on it after it claimed its key; its statement is then
  // cancelled, failing with SQLSTATE 57014 as a statement timeout on a stalled server does, but when the test says.
  await holdIncidents()
  const pending = app.inject({ method: 'POST', url: '/v1/incidents', headers, payload: body })
  const waiting = await blockedOnIncidents(pending)
  if (waiting !== undefined) t.ok(await cancel(waiting), 'the waiting statement was cancelled')
  const failed = await pending
  await admin.query('ROLLBACK')
  t.not(waiting, undefined, 'the request waited for the table')
  t.equal(failed.statusCode, 503, 'the stalled request is a 503 to retry')
  t.ok(Number(failed.headers['retry-after']) >= 1)
  const retried = await app.inject({ method: 'POST', url: '/v1/incidents', headers, payload: body })
  t.equal(retried.statusCode, 201, 'the retry runs again (not 409 "in flight")')
  const replay = await app.inject({ method: 'POST', url: '/v1/incidents', headers, payload: body })
  t.equal(replay.headers['idempotent-replayed'], 'true', 'and from then on the answer is replayed')
  const [stored] = await query<{ n: number }>(db, sql`SELECT count(*)::int AS n FROM incidents WHERE city_id = ${city.id} AND external_id = ${body.external_id as string}`)
  t.equal(stored?.n, 1, 'the report is stored once')
})
