// incident-export: GET /v1/exports/incidents?format=csv of BENCH_EXPORT_INCIDENTS incidents (1,000,000) of one city,
// read to the end by one client, against `COPY (SELECT ...) TO STDOUT (FORMAT csv)` of the same SELECT run by psql
// in the same run. Prints rows/s and MB/s of both, and the server's peak RSS (VmRSS sampled every 10 ms) during the
// export. Targets: peak RSS under 200 MB whatever the size (the export streams), rows/s at least half of COPY's.
//
// The incidents are seeded in prepare, into a city of their own, with one INSERT ... SELECT FROM generate_series
// (about 1 % opted out of statistics, so the export sends ~99 % of them); the SELECT given to COPY is the one the
// export itself runs, built by its own function (dist/routes/v1/exports/incidents.js incidentRecords). On PostgreSQL the
// export's CSV is itself a COPY of that SELECT (with its text cells neutralised, lib/streaming.ts copiedCsv), passed
// through to the socket with CRLF line ends: the floor is what PostgreSQL alone takes to write the same rows.
// BENCH_EXPORT_RUNS (2) exports are measured one after the other, after one warm-up that also warms the cache.
import { spawn } from 'node:child_process'
import { performance } from 'node:perf_hooks'
import { PgDialect } from 'drizzle-orm/pg-core'
import { createApiKey } from '../../dist/routes/v1/api-keys/repo.js'
import { createCity } from '../../dist/routes/v1/city/repo.js'
import { incidentRecords } from '../../dist/routes/v1/exports/incidents.js'
import { cpuMeter, fmt, InvalidMeasurement, memoryMb, positive } from '../harness.js'

const own = {
  incidents: positive('BENCH_EXPORT_INCIDENTS', 1_000_000),
  runs: positive('BENCH_EXPORT_RUNS', 2)
}
const RSS_TARGET_MB = 200
const RATE_TARGET = 0.5
const RSS_SAMPLE_MS = 10
const NEWLINE = 0x0a

/** Counts the bytes and lines of a stream of Buffers. */
function counter () {
  const total = { bytes: 0, lines: 0 }
  const add = (chunk) => {
    total.bytes += chunk.length
    let i = chunk.indexOf(NEWLINE)
    while (i !== -1) { total.lines++; i = chunk.indexOf(NEWLINE, i + 1) }
  }
  return { total, add }
}

/** One whole export, read as fast as it comes. */
async function exportOnce (server, ctx) {
  const res = await fetch(`${server.url}/v1/exports/incidents?format=csv`, { headers: { authorization: `Bearer ${ctx.fixtures.exportKey}` } })
  if (res.status !== 200) throw new InvalidMeasurement(`incident-export on ${server.label}: answered ${res.status}: ${(await res.text()).slice(0, 500)}`)
  const { total, add } = counter()
  for await (const chunk of res.body) add(chunk)
  return total
}

/** COPY of the export's own SELECT through psql, its output counted here. */
async function copyOnce (ctx) {
  const statement = ctx.fixtures.exportSelect
  return await new Promise((resolve, reject) => {
    const child = spawn('psql', [ctx.database.url, '-X', '-q', '-c', `COPY (${statement}) TO STDOUT WITH (FORMAT csv, HEADER)`], { stdio: ['ignore', 'pipe', 'inherit'] })
    const { total, add } = counter()
    child.stdout.on('data', add)
    child.on('error', reject)
    child.on('exit', (code) => code === 0 ? resolve(total) : reject(new InvalidMeasurement(`psql COPY exited with ${code}`)))
  })
}

const runsOf = (ctx) => (ctx.fixtures.exportRuns ??= new Map())
const mean = (values) => values.reduce((sum, v) => sum + v, 0) / values.length

export default {
  name: 'incident-export',
  description: () => `GET /v1/exports/incidents?format=csv of ${fmt(own.incidents, 0)} incidents, against COPY (SELECT ...) TO STDOUT of the same rows ` +
    `(no floor server: its own targets, peak RSS < ${RSS_TARGET_MB} MB, rows/s ≥ ${RATE_TARGET} × COPY's)`,
  target: null,
  unit: 'row',
  seeds: [],
  floorLabel: 'none',
  floor: null,

  /** A city of its own with the incidents, seeded set-based, and a key holding exports:read_records. */
  async prepare (ctx) {
    const { database, fixtures } = ctx
    const city = await database.withBench(async (c) => {
      const { drizzle } = await import('drizzle-orm/node-postgres')
      const schema = await import('../../dist/db/schema/index.js')
      const db = drizzle({ client: c, schema })
      const created = await createCity(db, { slug: 'export-bench', name: 'Export Bench', state: 'CT', population: 500000 })
      const { key } = await createApiKey(db, created.id, { name: 'Research partner key', scopes: ['exports:read_records'] })
      fixtures.exportKey = key
      process.stdout.write(`\n  ${fmt(own.incidents, 0)} incidents in ${created.slug} ... `)
      const started = Date.now()
      await c.query(`INSERT INTO incidents (city_id, id, source, incident_type, bias_motivations, bias_categories, offense_types, taxonomy_version,
          occurred_on, reported_at, location_type, neighborhood, census_tract, is_online, platform, victim_count, victim_type, include_in_statistics,
          status, content_hash)
        SELECT $1::uuid, gen_random_uuid(), 'ngo-' || (g % 24), CASE WHEN g % 3 = 0 THEN 'hate_crime' ELSE 'bias_incident' END,
          CASE WHEN g % 5 = 0 THEN '{14,21}'::text[] ELSE '{14}'::text[] END,
          CASE WHEN g % 5 = 0 THEN '{race_ethnicity_ancestry,religion}'::text[] ELSE '{race_ethnicity_ancestry}'::text[] END,
          CASE WHEN g % 3 = 0 THEN '{13B}'::text[] ELSE '{}'::text[] END, 'bench',
          date '2015-01-01' + (g::bigint * 7919 % 3650)::int, now(), CASE WHEN g % 10 = 0 THEN '58' ELSE '13' END,
          CASE WHEN g % 10 <> 0 THEN 'Neighbourhood ' || (g % 60) END, CASE WHEN g % 2 = 0 THEN (1000 + g % 400)::text || '.02' END,
          g % 10 = 0, CASE WHEN g % 10 = 0 THEN 'Instagram' END, 1 + g % 3, 'individual', g % 100 <> 0,
          (ARRAY['received', 'under_review', 'verified', 'referred', 'closed'])[1 + g % 5], repeat('0', 64)
        FROM generate_series(1, $2::int) AS g`, [created.id, own.incidents])
      process.stdout.write(`${((Date.now() - started) / 1000).toFixed(1)} s; VACUUM ANALYZE ... `)
      await c.query('VACUUM (ANALYZE) incidents')
      return created
    })
    // The export's own SELECT, with the city inlined (COPY takes no parameters).
    const { sql: text } = new PgDialect().sqlToQuery(incidentRecords({ cityId: city.id })(undefined))
    fixtures.exportSelect = text.replace('$1', `'${city.id}'::uuid`)
    fixtures.exportRows = await database.withBench(async (c) => Number((await c.query('SELECT count(*) AS n FROM incident_statistics WHERE city_id = $1', [city.id])).rows[0].n))
  },

  async cohesion (server, ctx) {
    const { database, fixtures } = ctx
    const label = `incident-export on ${server.label}`
    process.stdout.write(`  ${label}: a warm-up export, then ${own.runs} measured, each with a COPY ... `)
    const rssStart = memoryMb(server.pid, 'VmRSS')
    await exportOnce(server, ctx)
    const runs = []
    for (let i = 0; i < own.runs; i++) {
      const rssBefore = memoryMb(server.pid, 'VmRSS')
      let rssPeak = rssBefore
      const sampler = setInterval(() => { rssPeak = Math.max(rssPeak, memoryMb(server.pid, 'VmRSS')) }, RSS_SAMPLE_MS)
      const meter = await cpuMeter(server.pid, database)
      const t0 = performance.now()
      let got
      try { got = await exportOnce(server, ctx) } finally { clearInterval(sampler) }
      const seconds = (performance.now() - t0) / 1000
      const cpu = await meter.stop()
      rssPeak = Math.max(rssPeak, memoryMb(server.pid, 'VmRSS'))
      const rows = got.lines - 1
      if (rows !== fixtures.exportRows) throw new InvalidMeasurement(`${label}: ${rows} rows exported, ${fixtures.exportRows} expected`)
      const c0 = performance.now()
      const copied = await copyOnce(ctx)
      const copySeconds = (performance.now() - c0) / 1000
      if (copied.lines - 1 !== fixtures.exportRows) throw new InvalidMeasurement(`COPY: ${copied.lines - 1} rows, ${fixtures.exportRows} expected`)
      runs.push({ seconds, rows, bytes: got.bytes, rssStart, rssBefore, rssPeak, cpu, copySeconds, copyBytes: copied.bytes })
    }
    const map = runsOf(ctx)
    map.set(server.label, [...(map.get(server.label) ?? []), ...runs])
    const avg = (get) => mean(runs.map(get))
    const rate = avg((r) => r.rows / r.seconds)
    process.stdout.write(`${fmt(rate, 0)} rows/s, COPY ${fmt(avg((r) => r.rows / r.copySeconds), 0)} rows/s, peak RSS ${fmt(Math.max(...runs.map((r) => r.rssPeak)), 0)} MB\n`)
    const rows = avg((r) => r.rows)
    return {
      rate,
      p50: avg((r) => r.seconds * 1000),
      p99: Math.max(...runs.map((r) => r.seconds * 1000)),
      units: rows,
      requests: runs.length,
      cpu: { server: avg((r) => r.cpu.server) / rows, postgres: avg((r) => r.cpu.postgres) / rows, load: avg((r) => r.cpu.load) / rows }
    }
  },

  notes (ctx) {
    const notes = []
    for (const [label, runs] of runsOf(ctx)) {
      const avg = (get) => mean(runs.map(get))
      notes.push({
        ok: true,
        text: `${label}: export ${fmt(avg((r) => r.rows / r.seconds), 0)} rows/s, ${fmt(avg((r) => r.bytes / 1e6 / r.seconds), 1)} MB/s ` +
          `(${fmt(avg((r) => r.rows), 0)} rows, ${fmt(avg((r) => r.bytes / 1e6), 0)} MB in ${fmt(avg((r) => r.seconds), 2)} s)`
      })
      notes.push({
        ok: true,
        text: `${label}: COPY (SELECT ...) TO STDOUT ${fmt(avg((r) => r.rows / r.copySeconds), 0)} rows/s, ${fmt(avg((r) => r.copyBytes / 1e6 / r.copySeconds), 1)} MB/s ` +
          `(${fmt(avg((r) => r.copyBytes / 1e6), 0)} MB in ${fmt(avg((r) => r.copySeconds), 2)} s)`
      })
      notes.push({ ok: true, text: `${label}: server RSS ${fmt(avg((r) => r.rssStart), 0)} MB before the first (warm-up) export, ${fmt(avg((r) => r.rssBefore), 0)} MB before each measured one, peak ${fmt(Math.max(...runs.map((r) => r.rssPeak)), 0)} MB during the exports (VmRSS every ${RSS_SAMPLE_MS} ms)` })
    }
    return notes
  },

  verdicts (ctx) {
    const verdicts = []
    for (const [label, runs] of runsOf(ctx)) {
      const peak = Math.max(...runs.map((r) => r.rssPeak))
      const ratio = mean(runs.map((r) => r.copySeconds / r.seconds))
      verdicts.push({ label: `${label}: peak RSS`, figure: `${fmt(peak, 0)} MB`, target: `< ${RSS_TARGET_MB} MB`, met: peak < RSS_TARGET_MB })
      verdicts.push({ label: `${label}: rows/s ÷ COPY's`, figure: ratio.toFixed(2), target: `≥ ${RATE_TARGET}`, met: ratio >= RATE_TARGET })
    }
    return verdicts
  }
}
