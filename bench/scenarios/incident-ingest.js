// incident-ingest: an NGO's backfill. BENCH_INGEST_ROWS reports (50,000; BENCH_INGEST_PERSONAL of them, 0.5,
// with personal fields) through POST /v1/incidents/batch as JSON arrays of BENCH_INGEST_BATCH (1,000), sent by
// BENCH_INGEST_CLIENTS (4) concurrent clients (fetch) with a key holding incidents:write, into the chosen city
// holding BENCH_INCIDENTS incidents. The floor: the same reports as rows, inserted by multi-row INSERTs of
// the same size over as many pg connections, straight from this process (no HTTP, no validation, no
// sealing: random bytes of the sealed size) into the other seeded city. Rows/s come from the wall time of the
// timed batches, not autocannon: the work is in the batch, not in the request.
//
// Sliced: the sides take turns, each slice sending its share of the batches (BENCH_SLICES shares), so that a
// machine that is slower for a while slows every side alike; a side's rate is the mean of its slices'.
// What the slices add stays, so that every side's city grows alike, as in one long import (each side sends
// reports of its own: the same content under its own external_ids); a side's first slice follows a warm-up of
// BENCH_INGEST_WARMUP (8) batches and a CHECKPOINT. Both cities are reset to what was seeded (the bench's
// rows deleted, the table vacuumed, a checkpoint) before the scenario and after it, so the list sees them seeded.
//
// Checks: every item of every batch must come back 'accepted' (the NGO's key writes and cannot read, so a new
// report is answered as every keyed item it sends), and the city must have grown by exactly the rows sent.
//
// Round trips: this module also names the incident writes whose SQL round trips the bench counts: one report
// (POST /v1/incidents with an Idempotency-Key), one batch, and a PATCH with If-Match.
import { randomBytes } from 'node:crypto'
import { performance } from 'node:perf_hooks'
import pg from 'pg'
import { dayFormatter, FLOOR_COLUMNS, floorRow, makeReports } from '../data.js'
import { cpuMeter, fmt, InvalidMeasurement, percentile, positive, share } from '../harness.js'

const own = {
  rows: positive('BENCH_INGEST_ROWS', 50_000),
  batch: positive('BENCH_INGEST_BATCH', 1000),
  clients: positive('BENCH_INGEST_CLIENTS', 4),
  warmup: positive('BENCH_INGEST_WARMUP', 8, { zero: true }),
  personal: share('BENCH_INGEST_PERSONAL', 0.5)
}
if (own.batch > 1000) throw new Error('BENCH_INGEST_BATCH must be at most 1000 (the batch endpoint\'s limit)')

/** Every report the bench writes carries this external_id prefix (or the portal source), so a reset finds them all. */
const INGEST_PREFIX = 'ingest-'
/** Single reports come from a resident portal: no external_id, this source. */
const PORTAL_SOURCE = 'resident-portal'

export default {
  name: 'incident-ingest',
  description: (settings) => `POST /v1/incidents/batch: ${fmt(own.rows, 0)} reports, ${own.batch} per request, ${own.clients} clients, ` +
    `${fmt(own.personal * 100, 0)} % with personal data, into a city of ${fmt(settings.incidents, 0)} incidents; ` +
    `the floor: multi-row INSERTs of ${own.batch} rows over ${own.clients} pg connections`,
  target: 0.60,
  unit: 'row',
  sliced: true,
  seeds: ['incidents'],
  floorLabel: 'floor (pg INSERT)',

  /** Generates the reports, measured and warm-up, with their request bodies; starts from the seeded cities. */
  async prepare (ctx) {
    const started = Date.now()
    process.stdout.write(`Generating ${fmt(own.rows, 0)} + ${fmt(own.warmup * own.batch, 0)} warm-up reports ... `)
    ctx.fixtures.ingest = { sides: new Map() }
    const { measured, bodies } = reportsOf(ctx, 'floor')
    const bytes = bodies.measured.reduce((n, b) => n + Buffer.byteLength(b), 0)
    const personal = measured.flat().filter((r) => r.narrative !== undefined).length
    console.log(`done in ${((Date.now() - started) / 1000).toFixed(1)} s (${measured.length} batches, ${fmt(bytes / 1e6)} MB of JSON, ` +
      `${fmt(personal / own.rows * 100)} % with personal data)`)
    await resetAll(ctx)
  },

  async cohesion (server, ctx) {
    const { fixtures } = ctx
    const label = `incident-ingest on ${server.label}`
    const send = batchSender(server, fixtures.writeKey, label)
    const { bodies, measured, warm } = reportsOf(ctx, server.label)
    const asRequests = (list, texts) => list.map((b, i) => ({ body: texts[i], rows: b.length }))
    if (firstSlice(ctx)) await warmUp(ctx, label, asRequests(warm, bodies.warm), send)
    return await timedIngest(ctx, label, fixtures.cityId, sliceOf(ctx, asRequests(measured, bodies.measured)), send, server.pid)
  },

  /** The same reports as rows (prepared before the clock starts), multi-row INSERTs straight through pg. */
  async floor (server, ctx) {
    const { fixtures, database } = ctx
    const label = 'incident-ingest on the floor (pg INSERT)'
    const city = fixtures.floorCity
    const dayFormat = dayFormatter(city.timezone)
    const statements = (list) => list.map((batch) => ({ text: floorInsert(batch.length), values: batch.flatMap((report) => floorRow(city.id, report, dayFormat)), rows: batch.length }))
    const { measured, warm } = reportsOf(ctx, 'floor')
    const pool = new pg.Pool({ connectionString: database.url, max: own.clients, application_name: 'cohesion-bench-floor' })
    try {
      // Every connection open before the clock starts, so that all of them are charged PostgreSQL's CPU.
      const clients = await Promise.all(Array.from({ length: own.clients }, () => pool.connect()))
      for (const client of clients) client.release()
      const send = async ({ text, values }) => { await pool.query(text, values) }
      if (firstSlice(ctx)) await warmUp(ctx, label, statements(warm), send)
      return await timedIngest(ctx, label, city.id, statements(sliceOf(ctx, measured)), send, null)
    } finally {
      await pool.end()
    }
  },

  /** Every side has sent all its slices: both cities go back to what was seeded. */
  afterMeasuring: (ctx) => resetAll(ctx),

  roundTrips: [
    {
      name: 'POST /v1/incidents (one report, Idempotency-Key)',
      setup: (server, ctx, count) => ({ run: randomBytes(6).toString('hex'), reports: portalReports(count, 21) }),
      async send (server, ctx, state, i) {
        await expect(201, fetch(`${server.url}/v1/incidents`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${ctx.fixtures.writeKey}`, 'idempotency-key': `bench-${state.run}-${i}` },
          body: JSON.stringify(state.reports[i])
        }))
      }
    },
    {
      name: `POST /v1/incidents/batch (${fmt(own.batch, 0)} reports)`,
      setup: (server, ctx, count) => ({
        bodies: batches(makeReports({ count: count * own.batch, prefix: `${INGEST_PREFIX}rt`, personalShare: own.personal, seed: 22 })).map((b) => JSON.stringify(b))
      }),
      async send (server, ctx, state, i) {
        await batchSender(server, ctx.fixtures.writeKey, 'round trips')({ body: state.bodies[i], rows: own.batch }, i)
      }
    },
    {
      name: 'PATCH /v1/incidents/{id} (If-Match)',
      async setup (server, ctx) {
        const res = await expect(201, fetch(`${server.url}/v1/incidents`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${ctx.fixtures.editKey}` },
          body: JSON.stringify(portalReports(1, 23)[0])
        }))
        return { id: res.body.id, etag: res.headers.get('etag') }
      },
      async send (server, ctx, state, i) {
        const res = await expect(200, fetch(`${server.url}/v1/incidents/${state.id}`, {
          method: 'PATCH',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${ctx.fixtures.editKey}`, 'if-match': state.etag },
          body: JSON.stringify({ summary: `Reviewed by the coordinator, pass ${i}.` })
        }))
        state.etag = res.headers.get('etag')
      }
    }
  ],

  /** The round trips wrote into the chosen city: leave it as seeded. */
  afterRoundTrips: (ctx) => resetIngest(ctx, ctx.fixtures.cityId, 'incident round trips')
}

const firstSlice = (ctx) => (ctx.slice?.index ?? 0) === 0

/**
 * The reports a side sends, generated once per side: the same reports for every side (the same seed), but
 * under external_ids of its own, so that the Cohesion sides, which write into the same city, each create theirs.
 */
function reportsOf (ctx, side) {
  const { sides } = ctx.fixtures.ingest
  if (!sides.has(side)) {
    const prefix = `${INGEST_PREFIX}${sides.size}-`
    const measured = batches(makeReports({ count: own.rows, prefix: `${prefix}m`, personalShare: own.personal, seed: 7 }))
    const warm = batches(makeReports({ count: own.warmup * own.batch, prefix: `${prefix}w`, personalShare: own.personal, seed: 8 }))
    sides.set(side, { measured, warm, bodies: { measured: measured.map((b) => JSON.stringify(b)), warm: warm.map((b) => JSON.stringify(b)) } })
  }
  return sides.get(side)
}

/** Both incident cities as seeded: what the sides added deleted, the table vacuumed, a checkpoint. */
async function resetAll (ctx) {
  await resetIngest(ctx, ctx.fixtures.cityId, 'incident-ingest (Cohesion\'s city)')
  await resetIngest(ctx, ctx.fixtures.floorCity.id, 'incident-ingest (the floor\'s city)')
}

/** The batches of this slice: its share of the list, in order (the whole list when not sliced). */
function sliceOf (ctx, list) {
  const { index, count } = ctx.slice ?? { index: 0, count: 1 }
  return list.slice(Math.floor(index * list.length / count), Math.floor((index + 1) * list.length / count))
}

function batches (reports) {
  const out = []
  for (let i = 0; i < reports.length; i += own.batch) out.push(reports.slice(i, i + own.batch))
  return out
}

/** Reports as a resident portal sends them: no external_id, with personal fields (the README's example). */
function portalReports (count, seed) {
  return makeReports({ count, prefix: 'portal', personalShare: 1, seed }).map(({ external_id: _id, ...report }) => ({ ...report, source: PORTAL_SOURCE }))
}

/** Awaits a fetch that must answer `status`; answers its headers and parsed body. */
async function expect (status, pending) {
  const res = await pending
  const text = await res.text()
  if (res.status !== status) throw new InvalidMeasurement(`answered ${res.status} instead of ${status}: ${text.slice(0, 500)}`)
  return { headers: res.headers, body: JSON.parse(text) }
}

/** Sends one batch to Cohesion; anything but every item 'accepted' invalidates the measurement. */
function batchSender (server, writeKey, label) {
  const url = `${server.url}/v1/incidents/batch`
  const headers = { 'content-type': 'application/json', authorization: `Bearer ${writeKey}` }
  return async ({ body, rows }, i) => {
    const res = await fetch(url, { method: 'POST', headers, body })
    const text = await res.text()
    if (res.status !== 200) throw new InvalidMeasurement(`${label}: batch ${i} answered ${res.status}: ${text.slice(0, 500)}`)
    const result = JSON.parse(text)
    const bad = result.items.filter((item) => item.outcome !== 'accepted')
    if (result.items.length !== rows || bad.length > 0 || result.summary.accepted !== rows) {
      throw new InvalidMeasurement(`${label}: batch ${i}: ${result.summary.accepted} of ${rows} accepted; first other outcome: ${JSON.stringify(bad[0] ?? result.summary)}`)
    }
  }
}

async function countIncidents (ctx, cityId) {
  return await ctx.database.withBench(async (c) => Number((await c.query('SELECT count(*) AS n FROM incidents WHERE city_id = $1', [cityId])).rows[0].n))
}

/**
 * Removes what the bench added to a city and vacuums, then a checkpoint, and checks that the city holds
 * BENCH_INCIDENTS again. The foreign key (city_id, duplicate_of) -> (city_id, id) has no index on its
 * referencing side (the API never deletes incidents), so PostgreSQL would scan the table once per deleted
 * row: the session turns triggers (and with them that check) off; nothing refers to the bench's rows.
 */
async function resetIngest (ctx, cityId, label) {
  await ctx.database.withBench(async (c) => {
    await c.query('SET session_replication_role = replica')
    const { rowCount } = await c.query('DELETE FROM incidents WHERE city_id = $1 AND (external_id LIKE $2 OR source = $3)', [cityId, `${INGEST_PREFIX}%`, PORTAL_SOURCE])
    await c.query('RESET session_replication_role')
    if (rowCount > 0) await c.query('VACUUM (ANALYZE) incidents')
    await c.query('CHECKPOINT')
  })
  const count = await countIncidents(ctx, cityId)
  if (count !== ctx.settings.incidents) throw new InvalidMeasurement(`${label}: the city holds ${count} incidents, not ${ctx.settings.incidents}`)
}

/** Sends `list` with BENCH_INGEST_CLIENTS workers taking the next item in turn; the latency of each, in ms. */
async function drive (list, send) {
  const latencies = new Array(list.length)
  let next = 0
  const started = performance.now()
  await Promise.all(Array.from({ length: Math.min(own.clients, list.length) }, async () => {
    while (next < list.length) {
      const i = next++
      const t0 = performance.now()
      await send(list[i], i)
      latencies[i] = performance.now() - t0
    }
  }))
  return { elapsedMs: performance.now() - started, latencies }
}

/** The warm-up batches, then a checkpoint, so that the timed part starts with no dirty pages of the warm-up. */
async function warmUp (ctx, label, list, send) {
  if (list.length === 0) return
  process.stdout.write(`  ${label}: warm-up ${list.length} batches ... `)
  await drive(list, send)
  process.stdout.write('done\n')
  await ctx.database.withBench((c) => c.query('CHECKPOINT'))
}

/** Times the measured batches and turns them into the figures of the report, per row. */
async function timedIngest (ctx, label, cityId, list, send, serverPid) {
  const before = await countIncidents(ctx, cityId)
  const meter = await cpuMeter(serverPid, ctx.database)
  const rows = list.reduce((n, b) => n + b.rows, 0)
  process.stdout.write(`  ${label}: measuring ${fmt(rows, 0)} rows ... `)
  const { elapsedMs, latencies } = await drive(list, send)
  const cpu = await meter.stop()
  const rate = rows / (elapsedMs / 1000)
  process.stdout.write(`${fmt(rate, 0)} rows/s in ${fmt(elapsedMs / 1000, 2)} s\n`)
  const after = await countIncidents(ctx, cityId)
  if (after - before !== rows) throw new InvalidMeasurement(`${label}: the city grew by ${after - before} incidents, not ${rows}`)
  return {
    rate,
    p50: percentile(latencies, 50),
    p99: percentile(latencies, 99),
    units: rows,
    requests: list.length,
    cpu: { server: cpu.server / rows, postgres: cpu.postgres / rows, load: cpu.load / rows }
  }
}

const insertText = new Map()
/** INSERT INTO incidents (the columns Cohesion names) VALUES (...), (...): `rows` rows of parameters. */
function floorInsert (rows) {
  if (!insertText.has(rows)) {
    const width = FLOOR_COLUMNS.length
    const tuples = Array.from({ length: rows }, (_, r) => `(${FLOOR_COLUMNS.map((_, c) => `$${r * width + c + 1}`).join(', ')})`)
    insertText.set(rows, `INSERT INTO incidents (${FLOOR_COLUMNS.join(', ')}) VALUES ${tuples.join(', ')}`)
  }
  return insertText.get(rows)
}
