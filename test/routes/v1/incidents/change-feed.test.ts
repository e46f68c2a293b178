import { randomUUID } from 'node:crypto'
import { sql } from 'drizzle-orm'
import pg from 'pg'
import t from 'tap'
import { query } from '../../../../src/db/client.js'
import { bearer, build } from '../../../helper.js'
import { makeCityWithKey } from '../../../factories.js'
import { testDatabaseUrl, withDatabase } from '../../../template.js'
import { createIncident, etagOf, patchIncident, report } from './fixtures.js'

const { app, database, url: own } = await build(t)
const db = database.db
const WRITER = ['incidents:write', 'incidents:read', 'incidents:case'] as const

interface FeedPage { ids: string[], cursor: string }

async function feed (key: string, cursor?: string): Promise<FeedPage> {
  const res = await app.inject({ method: 'GET', url: `/v1/incidents?order=updated_asc&limit=50${cursor !== undefined ? `&cursor=${encodeURIComponent(cursor)}` : ''}`, headers: bearer(key) })
  if (res.statusCode !== 200) throw new Error(`${res.statusCode}: ${res.body}`)
  return { ids: res.json().data.map((i: { id: string }) => i.id), cursor: res.json().next_cursor }
}

t.test('a feed\'s cursor is sealed: it does not show the transaction number, which counts every city\'s writes, nor the last id', async (t) => {
  const city = await makeCityWithKey(db, [...WRITER])
  const incident = await createIncident(app, city.key)
  const page = await feed(city.key)
  t.same(page.ids, [incident.id])
  const [{ xid }] = await query<{ xid: string }>(db, sql`SELECT change_xid::text AS xid FROM incidents WHERE id = ${incident.id}`) as [{ xid: string }]
  const readable = page.cursor.split('.').map((part) => Buffer.from(part, 'base64url').toString('latin1')).join(' ')
  t.notMatch(readable, incident.id as string, 'the last id is not readable in it')
  t.notMatch(readable, xid, 'nor the transaction number')
  t.same((await feed(city.key, page.cursor)).ids, [], 'it still picks up where it was')
  const tampered = page.cursor.slice(0, -2) + (page.cursor.endsWith('AA') ? 'BB' : 'AA')
  const refused = await app.inject({ method: 'GET', url: `/v1/incidents?order=updated_asc&cursor=${encodeURIComponent(tampered)}`, headers: bearer(city.key) })
  t.equal(refused.statusCode, 400)
})

t.test('the feed never ends: its last page has a cursor that picks up later changes, a changed incident among them', async (t) => {
  const city = await makeCityWithKey(db, [...WRITER])
  const empty = await feed(city.key)
  t.same(empty.ids, [])
  t.type(empty.cursor, 'string', 'even an empty feed gives a cursor to come back with')
  const a = await createIncident(app, city.key)
  const b = await createIncident(app, city.key)
  const first = await feed(city.key, empty.cursor)
  t.same(first.ids, [a.id, b.id])
  t.same((await feed(city.key, first.cursor)).ids, [], 'up to date')
  await patchIncident(app, city.key, a.id, await etagOf(app, city.key, a.id), { summary: 'Changed.' })
  const c = await createIncident(app, city.key)
  t.same((await feed(city.key, first.cursor)).ids, [a.id, c.id], 'what changed since, in the order it was written')
})

// The race needs two transactions at once; PGlite runs one at a time, so it cannot happen there.
const url = testDatabaseUrl()
if (url !== undefined && own !== undefined) {
  const connect = async (connectionString: string): Promise<pg.Client> => {
    const client = new pg.Client({ connectionString })
    await client.connect()
    t.teardown(async () => { await client.end() })
    return client
  }

  /** A row written the way a long import writes it: inside a transaction that has not committed yet. */
  async function beginLongImport (client: pg.Client, cityId: string): Promise<string> {
    const id = randomUUID()
    await client.query('BEGIN')
    await client.query(`INSERT INTO incidents (city_id, id, source, external_id, incident_type, bias_motivations, bias_categories, taxonomy_version,
      occurred_on, reported_at, content_hash) VALUES ($1, $2, 'ngo-a', $3, 'bias_incident', '{14}', '{race_ethnicity_ancestry}', 'fbi-2024', '2024-03-01', now(), $4)`,
    [cityId, id, `long-${id}`, '0'.repeat(64)])
    return id
  }

  t.test('a partner paging the feed never skips a row of a long import that commits after shorter transactions', async (t) => {
    const city = await makeCityWithKey(db, [...WRITER])
    const before = await createIncident(app, city.key)
    const start = await feed(city.key)
    t.same(start.ids, [before.id])

    const long = await connect(own)
    const longId = await beginLongImport(long, city.id)
    const short = await createIncident(app, city.key, report())
    const during = await feed(city.key, start.cursor)
    t.same(during.ids, [], 'the short write waits behind the import still running, rather than be served first')
    t.equal(during.cursor, start.cursor, 'and the cursor stays where it was')

    await long.query('COMMIT')
    const after = await feed(city.key, during.cursor)
    t.same(after.ids, [longId, short.id], 'once the import commits, both come, the import first: nothing was skipped')
  })

  t.test('transactions of other databases and long read-only transactions do not hold the feed back', async (t) => {
    const city = await makeCityWithKey(db, [...WRITER])
    const start = await feed(city.key)
    const elsewhere = await connect(withDatabase(url, 'postgres'))
    await elsewhere.query('BEGIN')
    await elsewhere.query('SELECT pg_current_xact_id()')
    const reader = await connect(own)
    await reader.query('BEGIN ISOLATION LEVEL REPEATABLE READ')
    await reader.query('SELECT count(*) FROM incidents')
    const written = await createIncident(app, city.key)
    t.same((await feed(city.key, start.cursor)).ids, [written.id], 'the write is served while the other two are still open')
    await elsewhere.query('ROLLBACK')
    await reader.query('ROLLBACK')
  })
}
