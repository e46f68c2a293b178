import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { setTimeout as sleep } from 'node:timers/promises'
import { sql } from 'drizzle-orm'
import type pg from 'pg'
import t, { type Test } from 'tap'
import { query } from '../../../../src/db/client.js'
import { EXPORT_BATCH_SIZE, exportCapacity, runningExports } from '../../../../src/lib/streaming.js'
import { bearer, build, countStatements } from '../../../helper.js'
import { makeCityWithKey } from '../../../factories.js'

// A real server on a real socket: a download is read in part, paused or cut off, as a client would.
const { app, database } = await build(t)
await app.listen({ port: 0, host: '127.0.0.1' })
const port = (app.server.address() as AddressInfo).port
const db = database.db
const pages = countStatements(database, /FROM incident_statistics/)

const ROWS = 150_000
const city = await makeCityWithKey(db)
await db.execute(sql`INSERT INTO incidents (city_id, id, source, incident_type, bias_motivations, bias_categories, taxonomy_version, occurred_on, reported_at,
    neighborhood, census_tract, content_hash)
  SELECT ${city.id}::uuid, gen_random_uuid(), 'seed', 'bias_incident', '{14}', '{race_ethnicity_ancestry}', 'x', date '2020-01-01' + (g % 1500), now(),
    'Neighbourhood ' || (g % 40), '0215.02', repeat('0', 64)
  FROM generate_series(1, ${ROWS}) AS g`)

interface Download { request: http.ClientRequest, response: http.IncomingMessage, first: Buffer }

/** Starts an export and reads its first chunk, then stops reading (the socket's buffers fill, the server waits). */
async function startDownload (): Promise<Download> {
  return await new Promise((resolve, reject) => {
    const request = http.get({ host: '127.0.0.1', port, path: '/v1/exports/incidents?format=csv', headers: bearer(city.key) }, (response) => {
      if (response.statusCode !== 200) { reject(new Error(`status ${response.statusCode}`)); return }
      response.once('data', (first: Buffer) => { response.pause(); resolve({ request, response, first }) })
    })
    request.on('error', reject)
  })
}

/**
 * The export's session on PostgreSQL: PostgreSQL writes the CSV itself (COPY), and while the client does not
 * read, it waits to write (wait event ClientWrite); or none.
 */
async function exportSession (): Promise<{ state: string, xid: string | null } | undefined> {
  const [session] = await query<{ state: string, xid: string | null }>(db, sql`SELECT state, backend_xid::text AS xid FROM pg_stat_activity
    WHERE datname = current_database() AND pid <> pg_backend_pid() AND query LIKE 'COPY%' AND wait_event = 'ClientWrite'`)
  return session
}

/**
 * Waits until the export is held by backpressure: on PGlite the number of page queries stays the same for a
 * while; on PostgreSQL the COPY's session waits for the client to read, and keeps waiting.
 */
async function settled (): Promise<number> {
  let last = -1
  for (;;) {
    const now = pages.count()
    const waiting = database.driver === 'pglite' || (await exportSession()) !== undefined
    if (waiting && now === last) return now
    last = waiting ? now : -1
    await sleep(300)
  }
}

async function until (what: string, condition: () => boolean | Promise<boolean>): Promise<void> {
  const deadline = Date.now() + 15_000
  while (!await condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`)
    await sleep(50)
  }
}

const pool = (): pg.Pool | undefined => database.driver === 'pg' ? (db as unknown as { $client: pg.Pool }).$client : undefined

/** Every connection of the pool answers, all at once: none is stuck in an abandoned export. */
async function everyConnectionUsable (t: Test): Promise<void> {
  const size = pool()?.options.max ?? 1
  const answers = await Promise.all(Array.from({ length: size }, async () => await query<{ one: number }>(db, sql`SELECT 1 AS one`)))
  t.equal(answers.length, size, `all ${size} connections answer`)
  const p = pool()
  if (p === undefined) return
  t.equal(p.waitingCount, 0, 'nobody waits for a connection')
  t.equal(p.idleCount, p.totalCount, 'every open connection is idle in the pool')
  const busy = await query<{ state: string }>(db, sql`SELECT state FROM pg_stat_activity
    WHERE datname = current_database() AND pid <> pg_backend_pid() AND backend_type = 'client backend' AND state <> 'idle'`)
  t.same(busy, [], 'no other session of this database is running a statement or sitting in a transaction')
}

t.test('a paused download holds at most one connection, with no transaction id; an aborted one stops and releases everything', async (t) => {
  const before = pages.count()
  const download = await startDownload()
  t.match(download.first.toString('utf8'), /^occurred_on,incident_type,/, 'the download started with the header row')
  const read = await settled() - before
  t.equal(runningExports(database), 1)
  const p = pool()
  if (p === undefined) {
    t.ok(read < ROWS / EXPORT_BATCH_SIZE, `the export is held by backpressure after ${read} of ${ROWS / EXPORT_BATCH_SIZE} pages`)
  } else {
    const session = await exportSession()
    t.equal(session?.state, 'active', 'the COPY waits for the client to read')
    t.equal(session?.xid, null, 'its read-only transaction has no transaction id: the change feed is not held back')
    t.equal(p.totalCount - p.idleCount, 1, 'it holds one connection of the pool')
  }

  download.request.destroy()
  await until('the export ends', () => runningExports(database) === 0)
  if (p === undefined) {
    const after = await settled() - before
    t.ok(after <= read + 1, `no page is read after the client left (${after} pages in all)`)
  } else {
    await until('the COPY is gone', async () => (await query(db, sql`SELECT 1 FROM pg_stat_activity WHERE datname = current_database() AND query LIKE 'COPY%'
      AND pid <> pg_backend_pid()`)).length === 0)
    t.pass('the COPY is gone')
  }
  await everyConnectionUsable(t)
  const res = await app.inject({ method: 'GET', url: '/v1/exports/incidents?from=2020-01-01&to=2020-01-02', headers: bearer(city.key) })
  t.equal(res.statusCode, 200, 'the next export is served')
})

t.test('beyond the export capacity the answer is 503 with Retry-After, and the slots come back when the clients leave', async (t) => {
  const capacity = exportCapacity(database)
  if (database.driver === 'pg') t.ok(capacity < (pool()?.options.max ?? 0), `the capacity (${capacity}) is below the pool size`)
  const downloads: Download[] = []
  for (let i = 0; i < capacity; i++) downloads.push(await startDownload())
  t.equal(runningExports(database), capacity)
  const refused = await app.inject({ method: 'GET', url: '/v1/exports/incidents', headers: bearer(city.key) })
  t.equal(refused.statusCode, 503)
  t.match(refused.headers['content-type'], /^application\/problem\+json/)
  t.equal(refused.json().code, 'service_unavailable')
  t.equal(refused.headers['retry-after'], '30')
  const other = await app.inject({ method: 'GET', url: '/v1/exports/incidents/schema', headers: bearer(city.key) })
  t.equal(other.statusCode, 200, 'other requests are still served')
  const audited = await query<{ n: number }>(db, sql`SELECT count(*)::int AS n FROM audit_events WHERE city_id = ${city.id} AND action = 'export.incidents'`)

  for (const download of downloads) download.request.destroy()
  await until('every slot is back', () => runningExports(database) === 0)
  const served = await app.inject({ method: 'GET', url: '/v1/exports/incidents?from=2020-01-01&to=2020-01-31', headers: bearer(city.key) })
  t.equal(served.statusCode, 200, 'a later export is served')
  const auditedAfter = await query<{ n: number }>(db, sql`SELECT count(*)::int AS n FROM audit_events WHERE city_id = ${city.id} AND action = 'export.incidents'`)
  t.equal(auditedAfter[0]?.n, (audited[0]?.n ?? 0) + 1, 'the refused export was not recorded as made')
  await everyConnectionUsable(t)
})

t.test('a download read to the end has every row', async (t) => {
  const text = await new Promise<string>((resolve, reject) => {
    http.get({ host: '127.0.0.1', port, path: '/v1/exports/incidents?format=ndjson', headers: bearer(city.key) }, (response) => {
      let lines = 0
      let tail = ''
      response.setEncoding('utf8')
      response.on('data', (chunk: string) => {
        const text = tail + chunk
        const parts = text.split('\n')
        tail = parts.pop() ?? ''
        lines += parts.length
      })
      response.on('end', () => { resolve(`${lines}|${tail}`) })
      response.on('error', reject)
    }).on('error', reject)
  })
  t.equal(text, `${ROWS}|`, `${ROWS} lines, the last one ended`)
  t.equal(runningExports(database), 0)
})
