// kpi-series: GET /v1/kpis/{id}/series for a monthly incident-count KPI over 36 months (BENCH_KPI_FROM 2023-01 to
// BENCH_KPI_TO 2025-12), with a kpis:read key, in the chosen city at BENCH_INCIDENTS incidents (use
// BENCH_INCIDENTS=1000000 for the figure that counts), against the direct SQL: the same month-by-month count
// over incident_statistics (a generate_series of months LEFT JOIN the counts) sent through a bare pg client.
// BENCH_KPI_REQUESTS requests (30) one after the other, each followed by the direct SQL (interleaved, so that both
// see the same load), after BENCH_KPI_WARMUP (3) of each. A series is a
// report, read one at a time: what counts is its latency against the query it rests on. Target: p50 ≤ 1.5 × the
// direct SQL's.
//
// Checks: the EXPLAIN ANALYZE of the direct SQL is printed once and must use incidents_statistics_idx (the
// partial index on the incidents that count, by city and day); the API's months must equal the SQL's counts
// (at this size no month is small enough to be suppressed).
import { performance } from 'node:perf_hooks'
import { drizzle } from 'drizzle-orm/node-postgres'
import pg from 'pg'
import * as schema from '../../dist/db/schema/index.js'
import { newId } from '../../dist/lib/ids.js'
import { createApiKey } from '../../dist/routes/v1/api-keys/repo.js'
import { fmt, InvalidMeasurement, percentile, positive } from '../harness.js'

const TARGET = 1.5
const INDEX = 'incidents_statistics_idx'
const own = {
  from: process.env.BENCH_KPI_FROM || '2023-01',
  to: process.env.BENCH_KPI_TO || '2025-12',
  requests: positive('BENCH_KPI_REQUESTS', 30),
  warmup: positive('BENCH_KPI_WARMUP', 3, { zero: true })
}
if (!/^\d{4}-\d{2}$/.test(own.from) || !/^\d{4}-\d{2}$/.test(own.to)) throw new Error('BENCH_KPI_FROM and BENCH_KPI_TO must be months YYYY-MM')

const lastDay = (month) => new Date(Date.UTC(Number(month.slice(0, 4)), Number(month.slice(5, 7)), 0)).toISOString().slice(0, 10)

/** The direct SQL: every month of the range with its count of the incidents that count. */
const DIRECT_SQL = `SELECT p::date::text AS month, coalesce(c.n, 0)::int AS n
  FROM generate_series($2::date, $3::date, interval '1 month') p
  LEFT JOIN (SELECT date_trunc('month', occurred_on::timestamp)::date AS m, count(*) AS n
    FROM incident_statistics WHERE city_id = $1 AND occurred_on BETWEEN $2::date AND $4::date GROUP BY 1) c ON c.m = p::date
  ORDER BY 1`
const directValues = (cityId) => [cityId, `${own.from}-01`, `${own.to}-01`, lastDay(own.to)]

const runsOf = (ctx) => (ctx.fixtures.kpiSeriesRuns ??= new Map())
const mean = (values) => values.reduce((sum, v) => sum + v, 0) / values.length

async function timed (n, fn) {
  const latencies = []
  for (let i = 0; i < n; i++) {
    const t0 = performance.now()
    await fn()
    latencies.push(performance.now() - t0)
  }
  return latencies
}

function record (ctx, label, latencies) {
  const run = { p50: percentile(latencies, 50), p99: percentile(latencies, 99), mean: mean(latencies) }
  const runs = runsOf(ctx)
  if (!runs.has(label)) runs.set(label, [])
  runs.get(label).push(run)
  const n = latencies.length
  return { rate: n / (latencies.reduce((sum, v) => sum + v, 0) / 1000), p50: run.p50, p99: run.p99, units: n, requests: n, cpu: { server: 0, postgres: 0, load: 0 } }
}

export default {
  name: 'kpi-series',
  description: (settings) => `GET /v1/kpis/{id}/series?from=${own.from}&to=${own.to}: a monthly incident-count KPI at ${fmt(settings.incidents, 0)} incidents, ` +
    `${own.requests} requests one after the other, against the direct SQL (target: p50 ≤ ${TARGET} × the SQL's)`,
  target: null,
  unit: 'request',
  seeds: ['incidents'],
  floorLabel: 'none',
  floor: null,

  /** A monthly incident-count KPI and a kpis:read key in the chosen city; the direct SQL's plan, once. */
  async prepare (ctx) {
    const { fixtures } = ctx
    await ctx.database.withBench(async (c) => {
      const db = drizzle({ client: c, schema })
      const { key } = await createApiKey(db, fixtures.cityId, { name: 'KPI reader key', scopes: ['kpis:read'], sources: null, expiresAt: null })
      fixtures.kpiReadKey = key
      fixtures.kpiId = newId()
      await c.query(`INSERT INTO kpis (city_id, id, code, name, unit, direction, period, method, metric)
        VALUES ($1, $2, 'reported-incidents', '{"en": "Reported incidents"}', 'count', 'decrease', 'month', 'computed', 'incident_count')`, [fixtures.cityId, fixtures.kpiId])
      const values = directValues(fixtures.cityId)
      await c.query(DIRECT_SQL, values)
      const { rows } = await c.query(`EXPLAIN (ANALYZE, BUFFERS) ${DIRECT_SQL}`, values)
      const plan = rows.map((r) => r['QUERY PLAN'])
      fixtures.kpiPlanUsesIndex = plan.some((line) => line.includes(INDEX))
      console.log('EXPLAIN ANALYZE of the direct SQL of the KPI series:')
      for (const line of plan) console.log(`    ${line}`)
      fixtures.kpiExpected = (await c.query(DIRECT_SQL, values)).rows
    })
  },

  async cohesion (server, ctx) {
    const { fixtures } = ctx
    const url = `${server.url}/v1/kpis/${fixtures.kpiId}/series?from=${own.from}&to=${own.to}`
    const headers = { authorization: `Bearer ${fixtures.kpiReadKey}` }
    const get = async () => {
      const res = await fetch(url, { headers })
      const text = await res.text()
      if (res.status !== 200) throw new InvalidMeasurement(`kpi-series on ${server.label}: answered ${res.status}: ${text.slice(0, 500)}`)
      return JSON.parse(text)
    }
    const body = await get()
    const got = body.data.map((p) => [p.period_start, p.value])
    const want = fixtures.kpiExpected.map((r) => [r.month, r.n])
    if (JSON.stringify(got) !== JSON.stringify(want)) {
      throw new InvalidMeasurement(`kpi-series on ${server.label}: the series differs from the direct SQL: ${JSON.stringify(got).slice(0, 300)} vs ${JSON.stringify(want).slice(0, 300)}`)
    }
    process.stdout.write(`  kpi-series on ${server.label}: ${own.warmup} warm-up and ${own.requests} measured requests, each followed by the direct SQL ... `)
    // The direct SQL through a client of its own on the same database, interleaved with the requests, so that
    // both sides see the same load on a shared machine.
    const client = new pg.Client({ connectionString: ctx.database.url, application_name: 'cohesion-bench-kpi-sql' })
    await client.connect()
    const apiLatencies = []
    const sqlLatencies = []
    let result
    try {
      const values = directValues(fixtures.cityId)
      for (let i = 0; i < own.warmup; i++) {
        await get()
        await client.query(DIRECT_SQL, values)
      }
      for (let i = 0; i < own.requests; i++) {
        apiLatencies.push(...await timed(1, get))
        sqlLatencies.push(...await timed(1, () => client.query(DIRECT_SQL, values)))
      }
      result = record(ctx, server.label, apiLatencies)
      record(ctx, `direct SQL beside ${server.label}`, sqlLatencies)
    } finally {
      await client.end()
    }
    process.stdout.write(`p50 ${fmt(result.p50, 1)} ms\n`)
    return result
  },

  notes (ctx) {
    const notes = [{ ok: ctx.fixtures.kpiPlanUsesIndex === true, text: `EXPLAIN: the direct SQL ${ctx.fixtures.kpiPlanUsesIndex ? 'uses' : 'does NOT use'} ${INDEX}` }]
    for (const [label, runs] of runsOf(ctx)) {
      notes.push({ ok: true, text: `${label}: latency p50 ${fmt(mean(runs.map((r) => r.p50)), 1)} ms, p99 ${fmt(mean(runs.map((r) => r.p99)), 1)} ms, mean ${fmt(mean(runs.map((r) => r.mean)), 1)} ms` })
    }
    return notes
  },

  verdicts (ctx) {
    const runs = runsOf(ctx)
    const p50 = (label) => mean((runs.get(label) ?? []).map((r) => r.p50))
    return [...runs.keys()].filter((label) => !label.startsWith('direct SQL')).map((label) => {
      const ratio = p50(label) / p50(`direct SQL beside ${label}`)
      return { label, figure: `p50 ${ratio.toFixed(2)} × the SQL's`, target: `≤ ${TARGET} ×`, met: ratio <= TARGET }
    })
  }
}
