// Cohesion benchmark: how much throughput does the full API keep compared with a bare Fastify + pg server
// doing the same database work? Run with `npm run bench` (builds first). Not part of `npm test`.
//
// What it does:
//   1. drops and creates its own database (BENCH_DATABASE_URL), migrates it and generates data; when an
//      incident scenario is selected, also 1,000,000 incidents in each of two cities (set-based SQL, then
//      VACUUM ANALYZE): the chosen city (Cohesion's ingest, the list) and the next one (the floor's ingest);
//   2. for each server (Cohesion, then the bare baseline; one at a time, as a child process), runs every
//      scenario: request scenarios with autocannon in this process (a short warm-up, then the measurement);
//      the ingest scenario with its own timed driver (see below);
//   3. prints throughput, latency and CPU per request (per row for ingest) for each, the ratio cohesion/bare,
//      and whether the scenario's target is met (the exit code is 0 either way; only an invalid measurement
//      exits 1);
//   4. stops the servers and drops the database (unless BENCH_KEEP=1).
//
// Scenarios:
//   city-read        GET /v1/city (admin key) vs the same row by primary key through bare pg. Target ≥ 0.80.
//   incident-ingest  BENCH_INGEST_ROWS reports (100,000) through POST /v1/incidents/batch, JSON arrays of
//                    BENCH_INGEST_BATCH (1,000), BENCH_INGEST_CLIENTS (4) concurrent clients (fetch), a key with
//                    incidents:write, into a city holding BENCH_INCIDENTS (1,000,000) incidents; vs the floor:
//                    the same reports as rows, inserted by multi-row INSERTs of the same size over the same
//                    number of pg connections, straight from this process (no HTTP) into the other seeded city.
//                    Rows/s from the wall time of the timed batches; every item must come back 'created' and
//                    the city must have grown by exactly the rows sent. Both start from a CHECKPOINT, after a
//                    warm-up of BENCH_INGEST_WARMUP batches; afterwards the rows are deleted and the table
//                    vacuumed, so both cities hold BENCH_INCIDENTS again. Target ≥ 0.50.
//   incident-list    GET /v1/incidents?occurred_from&occurred_to&bias_motivation (a key with incidents:read) at
//                    BENCH_INCIDENTS rows vs the same SELECT through bare pg (bench/queries.js); the EXPLAIN
//                    ANALYZE of both statements is printed once and must use incidents_occurred_idx, and the
//                    first page must be full. Target ≥ 0.80.
//
// Settings (environment):
//   BENCH_DATABASE_URL   postgres://postgres@127.0.0.1:5432/cohesion_bench (dropped and re-created!)
//   BENCH_DURATION       seconds measured per scenario and server (10)
//   BENCH_WARMUP         seconds of warm-up before each measurement (3)
//   BENCH_CONNECTIONS    concurrent connections (50)
//   BENCH_PIPELINING     requests in flight per connection (1)
//   BENCH_ROUNDS         how many times to alternate cohesion/bare; figures are averaged (1)
//   BENCH_POOL_SIZE      database pool size of both servers (10)
//   BENCH_CITIES         cities generated (200)
//   BENCH_KEYS_PER_CITY  API keys per city (3)
//   BENCH_SCENARIOS      comma-separated scenario names to run: city-read,incident-ingest,incident-list (all);
//                        the incidents are only seeded when an incident-* scenario is selected
//   BENCH_INCIDENTS      incidents seeded in each of the two incident cities (1000000)
//   BENCH_INGEST_ROWS    reports sent per ingest measurement (100000)
//   BENCH_INGEST_BATCH   reports per batch request / INSERT statement (1000; Cohesion accepts at most 1,000)
//   BENCH_INGEST_CLIENTS concurrent ingest clients / floor connections (4)
//   BENCH_INGEST_WARMUP  batches sent before each ingest measurement, not counted (8; 0 for none)
//   BENCH_INGEST_PERSONAL share of reports carrying personal fields, 0-1 (0.3)
//   BENCH_LIST_FROM      occurred_from of the list scenario (2024-04-01)
//   BENCH_LIST_TO        occurred_to of the list scenario (2024-06-30)
//   BENCH_LIST_CODE      bias_motivation of the list scenario (14, anti-Asian: one of the common codes)
//   BENCH_SERVERS        comma-separated servers to run: cohesion,bare (both; the ratio needs both)
//   BENCH_KEEP=1         keep the database afterwards
//   BENCH_NODE_ARGS      extra node flags for the server children, e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof"
// Cohesion's own settings (LOG_LEVEL, AUTH_CACHE_TTL_MS, MAX_EVENT_LOOP_DELAY_MS, ...) are passed through from
// this environment, so they can be toggled to see what each costs; the bench defaults LOG_LEVEL to warn and
// RATE_LIMIT_MAX to 1000000 and always sets DATABASE_URL, ENCRYPTION_KEY, PORT, HOST, BOOTSTRAP and the pool.
import { spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { performance } from 'node:perf_hooks'
import { fileURLToPath } from 'node:url'
import autocannon from 'autocannon'
import { sql } from 'drizzle-orm'
import { drizzle } from 'drizzle-orm/node-postgres'
import pg from 'pg'
import { openDatabase } from '../dist/db/client.js'
import { migrate } from '../dist/db/migrate.js'
import * as schema from '../dist/db/schema/index.js'
import { listIncidents } from '../dist/routes/v1/incidents/repo.js'
import { dayFormatter, FLOOR_COLUMNS, floorRow, incidentKeys, makeReports, seed, seedIncidents } from './data.js'
import { LIST_LIMIT, LIST_SQL } from './queries.js'

const ROOT = fileURLToPath(new URL('..', import.meta.url))
const env = process.env

const settings = {
  databaseUrl: env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/cohesion_bench',
  duration: positive('BENCH_DURATION', 10),
  warmup: positive('BENCH_WARMUP', 3, true),
  connections: positive('BENCH_CONNECTIONS', 50),
  pipelining: positive('BENCH_PIPELINING', 1),
  rounds: positive('BENCH_ROUNDS', 1),
  poolSize: positive('BENCH_POOL_SIZE', 10),
  cities: positive('BENCH_CITIES', 200),
  keysPerCity: positive('BENCH_KEYS_PER_CITY', 3),
  only: list('BENCH_SCENARIOS'),
  servers: list('BENCH_SERVERS') ?? ['cohesion', 'bare'],
  keep: env.BENCH_KEEP === '1',
  nodeArgs: list('BENCH_NODE_ARGS', ' ') ?? [],
  incidents: positive('BENCH_INCIDENTS', 1_000_000),
  ingestRows: positive('BENCH_INGEST_ROWS', 100_000),
  ingestBatch: positive('BENCH_INGEST_BATCH', 1000),
  ingestClients: positive('BENCH_INGEST_CLIENTS', 4),
  ingestWarmup: positive('BENCH_INGEST_WARMUP', 8, true),
  ingestPersonal: positive('BENCH_INGEST_PERSONAL', 0.3, true),
  listFrom: date('BENCH_LIST_FROM', '2024-04-01'),
  listTo: date('BENCH_LIST_TO', '2024-06-30'),
  listCode: env.BENCH_LIST_CODE || '14'
}
if (settings.ingestPersonal > 1) throw new Error('BENCH_INGEST_PERSONAL must be between 0 and 1')
if (settings.ingestBatch > 1000) throw new Error('BENCH_INGEST_BATCH must be at most 1000 (the batch endpoint\'s limit)')

function date (name, fallback) {
  const value = env[name] || fallback
  if (!/^\d{4}-\d{2}-\d{2}$/.test(value)) throw new Error(`${name} must be a date YYYY-MM-DD (got ${value})`)
  return value
}

function positive (name, fallback, zeroAllowed = false) {
  if (env[name] === undefined || env[name] === '') return fallback
  const value = Number(env[name])
  if (!Number.isFinite(value) || value < (zeroAllowed ? 0 : 1)) throw new Error(`${name} must be a ${zeroAllowed ? 'non-negative' : 'positive'} number (got ${env[name]})`)
  return value
}

function list (name, separator = ',') {
  return env[name] ? env[name].split(separator).map((s) => s.trim()).filter(Boolean) : undefined
}

// ---------------------------------------------------------------------------------------------------------
// Scenarios. Each names the request sent to each server (an autocannon request: method, path, headers, body,
// or `requests` for a sequence), an optional check of one response before the load starts, and its target
// ratio cohesion/bare. A scenario with `run` measures itself instead (per server: a function of the server
// and the fixtures returning its figures); `incidents: true` asks for the seeded incidents; `prepare` runs
// once after the data is ready. `fixtures` is whatever bench/data.js returned, plus what prepare adds.
// ---------------------------------------------------------------------------------------------------------
const listQuery = () => `occurred_from=${settings.listFrom}&occurred_to=${settings.listTo}&bias_motivation=${settings.listCode}`

const scenarios = [
  {
    name: 'city-read',
    title: 'GET /v1/city: authenticated read of one row by primary key',
    target: 0.80,
    cohesion: (f) => ({ method: 'GET', path: '/v1/city', headers: { authorization: `Bearer ${f.adminKey}` } }),
    bare: (f) => ({ method: 'GET', path: `/city/${f.cityId}` }),
    check: (body, f) => body.id === f.cityId && body.slug === f.citySlug
  },
  {
    name: 'incident-ingest',
    get title () {
      return `POST /v1/incidents/batch: ${fmt(settings.ingestRows, 0)} reports, ${settings.ingestBatch} per request, ${settings.ingestClients} clients, ` +
        `${Math.round(settings.ingestPersonal * 100)} % with personal data, into a city of ${fmt(settings.incidents, 0)} incidents; ` +
        `bare = the floor: multi-row INSERTs of ${settings.ingestBatch} rows over ${settings.ingestClients} pg connections`
    },
    target: 0.50,
    incidents: true,
    unit: 'rows',
    prepare: prepareIngest,
    run: { cohesion: ingestThroughCohesion, bare: ingestFloor }
  },
  {
    name: 'incident-list',
    get title () {
      return `GET /v1/incidents?${listQuery()}: one page (50) at ${fmt(settings.incidents, 0)} incidents in the city`
    },
    target: 0.80,
    incidents: true,
    prepare: explainList,
    cohesion: (f) => ({ method: 'GET', path: `/v1/incidents?${listQuery()}`, headers: { authorization: `Bearer ${f.readKey}` } }),
    bare: (f) => ({ method: 'GET', path: `/incidents?city_id=${f.cityId}&${listQuery()}` }),
    check: (body) => Array.isArray(body.data) && body.data.length === LIST_LIMIT && body.data.every((i) =>
      i.bias_motivations.includes(settings.listCode) && i.occurred_on >= settings.listFrom && i.occurred_on <= settings.listTo)
  }
]

// ---------------------------------------------------------------------------------------------------------
// Servers: started one at a time as children, so that on a small machine only one competes with the load
// generator and PostgreSQL.
// ---------------------------------------------------------------------------------------------------------
const COHESION_DEFAULTS = { LOG_LEVEL: 'warn', RATE_LIMIT_MAX: '1000000' }
/** Cohesion settings worth showing next to the figures when they are not the bench defaults. */
const SHOWN_SETTINGS = ['LOG_LEVEL', 'RATE_LIMIT_MAX', 'AUTH_CACHE_TTL_MS', 'MAX_EVENT_LOOP_DELAY_MS', 'TRUST_PROXY', 'CORS_ORIGINS', 'DATABASE_STATEMENT_TIMEOUT_MS']

const servers = {
  cohesion: {
    script: 'dist/server.js',
    readyPath: '/health/ready',
    env: (port) => ({
      ...COHESION_DEFAULTS,
      ...pick(env, Object.keys(COHESION_DEFAULTS)),
      DATABASE_URL: settings.databaseUrl,
      ENCRYPTION_KEY: randomBytes(32).toString('base64'),
      DATABASE_POOL_SIZE: String(settings.poolSize),
      PORT: String(port),
      HOST: '127.0.0.1',
      BOOTSTRAP: 'false'
    })
  },
  bare: {
    script: 'bench/bare-server.js',
    readyPath: '/health',
    env: (port) => ({ DATABASE_URL: settings.databaseUrl, DATABASE_POOL_SIZE: String(settings.poolSize), PORT: String(port), HOST: '127.0.0.1' })
  }
}

function pick (source, names) {
  return Object.fromEntries(names.filter((n) => source[n] !== undefined && source[n] !== '').map((n) => [n, source[n]]))
}

const children = new Set()

async function freePort () {
  return await new Promise((resolve, reject) => {
    const server = createServer()
    server.unref()
    server.on('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address()
      server.close(() => resolve(port))
    })
  })
}

async function startServer (name) {
  const spec = servers[name]
  const port = await freePort()
  const child = spawn(process.execPath, [...settings.nodeArgs, spec.script], {
    cwd: ROOT,
    env: { ...env, ...spec.env(port) },
    stdio: ['ignore', 'pipe', 'pipe']
  })
  children.add(child)
  const prefix = (stream, out) => {
    let rest = ''
    stream.setEncoding('utf8')
    stream.on('data', (chunk) => {
      const lines = (rest + chunk).split('\n')
      rest = lines.pop()
      for (const line of lines) if (line.trim() !== '') out.write(`  [${name}] ${line}\n`)
    })
  }
  prefix(child.stdout, process.stdout)
  prefix(child.stderr, process.stderr)
  let exited = null
  child.on('exit', (code, signal) => { exited = { code, signal }; children.delete(child) })
  const url = `http://127.0.0.1:${port}`
  const deadline = Date.now() + 30_000
  for (;;) {
    if (exited !== null) throw new Error(`${name} exited before it was ready (code ${exited.code}, signal ${exited.signal})`)
    try {
      const res = await fetch(url + spec.readyPath)
      if (res.status === 200) break
    } catch {}
    if (Date.now() > deadline) throw new Error(`${name} did not become ready within 30 s`)
    await sleep(100)
  }
  return { name, url, child, pid: child.pid }
}

async function stopServer (server) {
  const { child } = server
  if (child.exitCode !== null || child.signalCode !== null) return
  const done = new Promise((resolve) => child.once('exit', resolve))
  child.kill('SIGTERM')
  const timer = setTimeout(() => child.kill('SIGKILL'), 15_000)
  await done
  clearTimeout(timer)
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))

// ---------------------------------------------------------------------------------------------------------
// Database
// ---------------------------------------------------------------------------------------------------------
function adminTarget () {
  const url = new URL(settings.databaseUrl)
  const name = decodeURIComponent(url.pathname.replace(/^\//, ''))
  // The database is dropped: refuse anything that does not look like a bench's own.
  if (!/^[a-z0-9_]+$/.test(name) || !name.includes('bench')) {
    throw new Error(`BENCH_DATABASE_URL must name a database whose name contains "bench" (lowercase, digits, _); got "${name}"`)
  }
  url.pathname = '/postgres'
  return { name, adminUrl: url.toString() }
}

async function withAdmin (fn) {
  const { adminUrl } = adminTarget()
  const client = new pg.Client({ connectionString: adminUrl, application_name: 'cohesion-bench' })
  await client.connect()
  try { return await fn(client) } finally { await client.end() }
}

async function recreateDatabase () {
  const { name } = adminTarget()
  await withAdmin(async (c) => {
    await c.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`)
    await c.query(`CREATE DATABASE "${name}"`)
  })
}

async function dropDatabase () {
  const { name } = adminTarget()
  await withAdmin(async (c) => { await c.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`) })
}

async function prepareData (withIncidents) {
  const options = {
    DATABASE_URL: settings.databaseUrl,
    DATA_DIR: '/nonexistent',
    DATABASE_POOL_SIZE: 2,
    DATABASE_CONNECT_TIMEOUT_MS: 10_000,
    DATABASE_STATEMENT_TIMEOUT_MS: 600_000
  }
  const database = await openDatabase(options)
  try {
    await migrate(database, settings.databaseUrl)
    const fixtures = await seed(database.db, { cities: settings.cities, keysPerCity: settings.keysPerCity })
    if (withIncidents && fixtures.floorCity === undefined) throw new Error('the incident scenarios need BENCH_CITIES ≥ 2 (a second city for the floor)')
    if (withIncidents) Object.assign(fixtures, await incidentKeys(database.db, fixtures.cityId))
    await database.db.execute(sql`ANALYZE`)
    if (withIncidents) {
      process.stdout.write(`\n  ${fmt(settings.incidents, 0)} incidents in each of ${fixtures.citySlug} and ${fixtures.floorCity.slug} ... `)
      const started = Date.now()
      await withBench(async (c) => {
        await seedIncidents(c, [{ id: fixtures.cityId, timezone: fixtures.cityTimezone }, fixtures.floorCity], { rows: settings.incidents })
        process.stdout.write(`${((Date.now() - started) / 1000).toFixed(1)} s; VACUUM ANALYZE ... `)
        await c.query('VACUUM (ANALYZE) incidents')
      })
    }
    return fixtures
  } finally {
    await database.close()
  }
}

/** A session on the bench database itself (VACUUM, CHECKPOINT, counts, EXPLAIN). */
async function withBench (fn) {
  const client = new pg.Client({ connectionString: settings.databaseUrl, application_name: 'cohesion-bench-admin' })
  await client.connect()
  try { return await fn(client) } finally { await client.end() }
}

/** Backend pids serving the bench database (other than our own session), to charge PostgreSQL's CPU. */
async function backendPids () {
  const { name } = adminTarget()
  return await withAdmin(async (c) => {
    const { rows } = await c.query('SELECT pid FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()', [name])
    return rows.map((r) => r.pid)
  })
}

// ---------------------------------------------------------------------------------------------------------
// CPU accounting from /proc (Linux): user+system time of the server process and of its database backends.
// ---------------------------------------------------------------------------------------------------------
const TICK_US = 1e6 / 100 // USER_HZ is 100 on every Linux Node runs on

function cpuUs (pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    return (Number(fields[11]) + Number(fields[12])) * TICK_US // utime, stime
  } catch {
    return null
  }
}

function cpuSnapshot (pids) {
  return new Map(pids.map((pid) => [pid, cpuUs(pid)]))
}

function cpuSince (before) {
  let total = 0
  for (const [pid, start] of before) {
    const end = cpuUs(pid)
    if (start !== null && end !== null) total += end - start
  }
  return total
}

// ---------------------------------------------------------------------------------------------------------
// Load
// ---------------------------------------------------------------------------------------------------------
async function load (url, request, duration) {
  const { path = '/', requests, ...rest } = request
  return await autocannon({
    url: url + path,
    connections: settings.connections,
    pipelining: settings.pipelining,
    duration,
    ...(requests ? { requests } : {}),
    ...rest
  })
}

class InvalidMeasurement extends Error {}

function assertClean (label, result) {
  const codes = Object.entries(result.statusCodeStats ?? {}).map(([code, s]) => `${code}: ${s.count}`).join(', ')
  if (result.non2xx > 0 || result.errors > 0 || result.timeouts > 0) {
    throw new InvalidMeasurement(`${label}: ${result.non2xx} non-2xx responses, ${result.errors} errors, ${result.timeouts} timeouts (status codes: ${codes}). ` +
      'The figures would be meaningless; fix the cause (rate limit? load shedding? a failing route?) and run again.')
  }
  if (result.requests.total === 0) throw new InvalidMeasurement(`${label}: no request completed`)
}

/** One request before the load: must answer 200 with the expected body. */
async function probe (label, url, request, check, fixtures) {
  const res = await fetch(url + (request.path ?? '/'), { method: request.method ?? 'GET', headers: request.headers, body: request.body })
  const text = await res.text()
  if (res.status < 200 || res.status > 299) throw new InvalidMeasurement(`${label}: probe answered ${res.status}: ${text.slice(0, 500)}`)
  if (check !== undefined) {
    let body
    try { body = JSON.parse(text) } catch { body = text }
    if (!check(body, fixtures)) throw new InvalidMeasurement(`${label}: probe answered an unexpected body: ${text.slice(0, 500)}`)
  }
}

async function measure (server, scenario, fixtures) {
  const label = `${scenario.name} on ${server.name}`
  const request = scenario[server.name](fixtures)
  await probe(label, server.url, request, scenario.check, fixtures)
  if (settings.warmup > 0) {
    process.stdout.write(`  ${label}: warm-up ${settings.warmup} s ... `)
    assertClean(`${label} (warm-up)`, await load(server.url, request, settings.warmup))
    process.stdout.write('done\n')
  }
  const pgPids = await backendPids()
  const serverCpu = cpuSnapshot([server.pid])
  const pgCpu = cpuSnapshot(pgPids)
  const selfCpu = process.cpuUsage()
  process.stdout.write(`  ${label}: measuring ${settings.duration} s ... `)
  const result = await load(server.url, request, settings.duration)
  const self = process.cpuUsage(selfCpu)
  const total = result.requests.total
  const m = {
    reqPerSec: result.requests.average,
    reqPerSecStddev: result.requests.stddev,
    p50: result.latency.p50,
    p99: result.latency.p99,
    total,
    serverCpuUsPerReq: cpuSince(serverCpu) / total,
    pgCpuUsPerReq: cpuSince(pgCpu) / total,
    loadCpuUsPerReq: (self.user + self.system) / total,
    non2xx: result.non2xx
  }
  process.stdout.write(`${fmt(m.reqPerSec, 0)} req/s\n`)
  assertClean(label, result)
  return m
}

// ---------------------------------------------------------------------------------------------------------
// Incident ingest: a timed driver, not autocannon. The same reports go to both sides; the rows each side
// adds are deleted afterwards (and the table vacuumed), so every measurement starts from the same table.
// ---------------------------------------------------------------------------------------------------------
const INGEST_PREFIX = 'ingest-'

/** Generates the reports once: the measured ones and the warm-up ones, as request bodies. */
async function prepareIngest (fixtures) {
  const started = Date.now()
  process.stdout.write(`Generating ${fmt(settings.ingestRows, 0)} + ${fmt(settings.ingestWarmup * settings.ingestBatch, 0)} warm-up reports ... `)
  const measured = makeReports({ count: settings.ingestRows, prefix: `${INGEST_PREFIX}m`, personalShare: settings.ingestPersonal, seed: 7 })
  const warm = makeReports({ count: settings.ingestWarmup * settings.ingestBatch, prefix: `${INGEST_PREFIX}w`, personalShare: settings.ingestPersonal, seed: 8 })
  const batches = (reports) => {
    const out = []
    for (let i = 0; i < reports.length; i += settings.ingestBatch) out.push(reports.slice(i, i + settings.ingestBatch))
    return out
  }
  fixtures.ingest = { measured: batches(measured), warm: batches(warm) }
  fixtures.ingest.bodies = { measured: fixtures.ingest.measured.map((b) => JSON.stringify(b)), warm: fixtures.ingest.warm.map((b) => JSON.stringify(b)) }
  const bytes = fixtures.ingest.bodies.measured.reduce((n, b) => n + Buffer.byteLength(b), 0)
  const personal = measured.filter((r) => r.narrative !== undefined).length
  console.log(`done in ${((Date.now() - started) / 1000).toFixed(1)} s (${fixtures.ingest.measured.length} batches, ${fmt(bytes / 1e6)} MB of JSON, ${fmt(personal / measured.length * 100)} % with personal data)`)
}

async function countIncidents (cityId) {
  return await withBench(async (c) => Number((await c.query('SELECT count(*) AS n FROM incidents WHERE city_id = $1', [cityId])).rows[0].n))
}

/**
 * Removes what an ingest run added and vacuums, so the next run (and the list) sees the seeded table; then a
 * checkpoint. The foreign key (city_id, duplicate_of) -> (city_id, id) has no index on its referencing side
 * (the API never deletes incidents), so PostgreSQL would scan the table once per deleted row: the session
 * turns triggers (and with them that check) off; nothing refers to the bench's rows.
 */
async function resetIngest (cityId, label) {
  await withBench(async (c) => {
    await c.query('SET session_replication_role = replica')
    const { rowCount } = await c.query('DELETE FROM incidents WHERE city_id = $1 AND external_id LIKE $2', [cityId, `${INGEST_PREFIX}%`])
    await c.query('RESET session_replication_role')
    if (rowCount > 0) await c.query('VACUUM (ANALYZE) incidents')
    await c.query('CHECKPOINT')
  })
  const count = await countIncidents(cityId)
  if (count !== settings.incidents) throw new InvalidMeasurement(`${label}: the city holds ${count} incidents, not ${settings.incidents}`)
}

/** Sends `batches` with `settings.ingestClients` workers taking the next batch in turn; the latency of each, in ms. */
async function drive (batches, send) {
  const latencies = new Array(batches.length)
  let next = 0
  const started = performance.now()
  await Promise.all(Array.from({ length: Math.min(settings.ingestClients, batches.length) }, async () => {
    while (next < batches.length) {
      const i = next++
      const t0 = performance.now()
      await send(batches[i], i)
      latencies[i] = performance.now() - t0
    }
  }))
  return { elapsedMs: performance.now() - started, latencies }
}

function percentile (values, p) {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p / 100 * sorted.length) - 1))]
}

/** Times the measured batches and turns them into the figures of the report (per row). */
async function timedIngest (label, cityId, batches, send, serverPid) {
  const before = await countIncidents(cityId)
  const pgPids = await backendPids()
  const serverCpu = serverPid !== null ? cpuSnapshot([serverPid]) : null
  const pgCpu = cpuSnapshot(pgPids)
  const selfCpu = process.cpuUsage()
  process.stdout.write(`  ${label}: measuring ${fmt(settings.ingestRows, 0)} rows ... `)
  const { elapsedMs, latencies } = await drive(batches, send)
  const self = process.cpuUsage(selfCpu)
  const rows = batches.reduce((n, b) => n + b.rows, 0)
  const m = {
    rowsPerSec: rows / (elapsedMs / 1000),
    elapsedS: elapsedMs / 1000,
    p50: percentile(latencies, 50),
    p99: percentile(latencies, 99),
    rows,
    requests: batches.length,
    serverCpuUsPerRow: serverCpu !== null ? cpuSince(serverCpu) / rows : NaN,
    pgCpuUsPerRow: cpuSince(pgCpu) / rows,
    loadCpuUsPerRow: (self.user + self.system) / rows
  }
  process.stdout.write(`${fmt(m.rowsPerSec, 0)} rows/s in ${fmt(m.elapsedS, 2)} s\n`)
  const after = await countIncidents(cityId)
  if (after - before !== rows) throw new InvalidMeasurement(`${label}: the city grew by ${after - before} incidents, not ${rows}`)
  return m
}

async function ingestThroughCohesion (server, fixtures) {
  const label = `incident-ingest on ${server.name}`
  await resetIngest(fixtures.cityId, label)
  const url = `${server.url}/v1/incidents/batch`
  const headers = { 'content-type': 'application/json', authorization: `Bearer ${fixtures.writeKey}` }
  const send = async ({ body, rows }, i) => {
    const res = await fetch(url, { method: 'POST', headers, body })
    const text = await res.text()
    if (res.status !== 200) throw new InvalidMeasurement(`${label}: batch ${i} answered ${res.status}: ${text.slice(0, 500)}`)
    const result = JSON.parse(text)
    const bad = result.items.filter((item) => item.outcome !== 'created')
    if (result.items.length !== rows || bad.length > 0 || result.summary.created !== rows) {
      throw new InvalidMeasurement(`${label}: batch ${i}: ${result.summary.created} of ${rows} created; first other outcome: ${JSON.stringify(bad[0] ?? result.summary)}`)
    }
  }
  const { bodies, measured, warm } = fixtures.ingest
  if (warm.length > 0) {
    process.stdout.write(`  ${label}: warm-up ${warm.length} batches ... `)
    await drive(warm.map((b, i) => ({ body: bodies.warm[i], rows: b.length })), send)
    process.stdout.write('done\n')
    await withBench((c) => c.query('CHECKPOINT'))
  }
  const m = await timedIngest(label, fixtures.cityId, measured.map((b, i) => ({ body: bodies.measured[i], rows: b.length })), send, server.pid)
  await resetIngest(fixtures.cityId, label)
  return m
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

/** The floor: the same reports as rows (prepared before the clock starts), multi-row INSERTs straight through pg. */
async function ingestFloor (server, fixtures) {
  const label = 'incident-ingest on the floor (pg INSERT)'
  const city = fixtures.floorCity
  await resetIngest(city.id, label)
  const dayFormat = dayFormatter(city.timezone)
  const statements = (batches) => batches.map((batch) => ({ text: floorInsert(batch.length), values: batch.flatMap((report) => floorRow(city.id, report, dayFormat)), rows: batch.length }))
  const pool = new pg.Pool({ connectionString: settings.databaseUrl, max: settings.ingestClients, application_name: 'cohesion-bench-floor' })
  try {
    // Every connection open before the clock starts (and counted in the CPU of PostgreSQL).
    const clients = await Promise.all(Array.from({ length: settings.ingestClients }, () => pool.connect()))
    for (const client of clients) client.release()
    const send = async ({ text, values }) => { await pool.query(text, values) }
    const { measured, warm } = fixtures.ingest
    if (warm.length > 0) {
      process.stdout.write(`  ${label}: warm-up ${warm.length} batches ... `)
      await drive(statements(warm), send)
      process.stdout.write('done\n')
      await withBench((c) => c.query('CHECKPOINT'))
    }
    const m = await timedIngest(label, city.id, statements(measured), send, null)
    return m
  } finally {
    await pool.end()
    await resetIngest(city.id, label)
  }
}

// ---------------------------------------------------------------------------------------------------------
// Incident list: the plan of both statements, once.
// ---------------------------------------------------------------------------------------------------------
/** The statement Cohesion sends for the list, captured from its own repository function (no database involved). */
async function cohesionListStatement (fixtures) {
  let captured = null
  const client = {
    query: async (config, values) => {
      captured = typeof config === 'string' ? { text: config, values } : { text: config.text, values: values ?? config.values }
      return { rows: [], rowCount: 0, fields: [], command: 'SELECT' }
    }
  }
  await listIncidents(drizzle({ client, schema }), fixtures.cityId,
    { occurred_from: settings.listFrom, occurred_to: settings.listTo, bias_motivation: settings.listCode, limit: LIST_LIMIT }, null, undefined)
  if (captured?.text === undefined || !Array.isArray(captured.values)) throw new Error('could not capture the statement of listIncidents')
  return captured
}

async function explainList (fixtures) {
  const statements = {
    cohesion: await cohesionListStatement(fixtures),
    bare: { text: LIST_SQL, values: [fixtures.cityId, settings.listFrom, settings.listTo, settings.listCode, LIST_LIMIT + 1] }
  }
  fixtures.listPlans = {}
  await withBench(async (c) => {
    for (const [name, { text, values }] of Object.entries(statements)) {
      await c.query(text, values) // once to read the pages in, so the plan shows the steady state
      const { rows } = await c.query(`EXPLAIN (ANALYZE, BUFFERS) ${text}`, values)
      const plan = rows.map((r) => r['QUERY PLAN'])
      const count = (await c.query(text, values)).rows.length
      fixtures.listPlans[name] = { usesIndex: plan.some((line) => line.includes('incidents_occurred_idx')), rows: count }
      console.log(`EXPLAIN ANALYZE of the incident-list statement ${name === 'cohesion' ? 'Cohesion sends (captured from its listIncidents)' : 'of the bare server'} (${count} rows):`)
      for (const line of plan) console.log(`    ${line}`)
    }
  })
}

// ---------------------------------------------------------------------------------------------------------
// Report
// ---------------------------------------------------------------------------------------------------------
function fmt (n, digits = 1) {
  return Number.isFinite(n) ? n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits }) : '-'
}

function mean (runs, key) {
  return runs.reduce((sum, r) => sum + r[key], 0) / runs.length
}

function report (results, fixtures) {
  const shown = pick(env, SHOWN_SETTINGS)
  const effective = { ...COHESION_DEFAULTS, ...shown }
  console.log('\n' + '='.repeat(100))
  console.log(`Cohesion benchmark — ${settings.connections} connections, pipelining ${settings.pipelining}, ${settings.duration} s per run (+${settings.warmup} s warm-up), ` +
    `${settings.rounds} round(s), pool ${settings.poolSize}, ${settings.cities} cities`)
  console.log(`Machine: ${navigatorCpus()} CPU(s), node ${process.version}; load generator runs in this process, servers as children one at a time`)
  console.log(`Cohesion settings: ${Object.entries(effective).map(([k, v]) => `${k}=${v}`).join(' ')}`)
  let allMet = true
  for (const scenario of scenarios.filter(selected)) {
    const perServer = results.get(scenario.name)
    console.log('\n' + `${scenario.name}: ${scenario.title}`)
    const avg = {}
    if (scenario.unit === 'rows') {
      console.log('  side              rows/s   elapsed s   request p50 ms   p99 ms   rows (requests)   CPU µs/row: server   postgres   client (this process)')
      for (const name of settings.servers) {
        const runs = perServer.get(name) ?? []
        if (runs.length === 0) continue
        avg[name] = mean(runs, 'rowsPerSec')
        console.log(`  ${(name === 'bare' ? 'floor (pg)' : name).padEnd(14)}  ${fmt(avg[name], 0).padStart(8)}   ${fmt(mean(runs, 'elapsedS'), 2).padStart(9)}   ${fmt(mean(runs, 'p50')).padStart(14)}   ${fmt(mean(runs, 'p99')).padStart(6)}   ` +
          `${`${fmt(mean(runs, 'rows'), 0)} (${fmt(mean(runs, 'requests'), 0)})`.padStart(15)}               ${fmt(mean(runs, 'serverCpuUsPerRow'), 0).padStart(6)}   ${fmt(mean(runs, 'pgCpuUsPerRow'), 0).padStart(8)}   ${fmt(mean(runs, 'loadCpuUsPerRow'), 0).padStart(21)}`)
        if (runs.length > 1) console.log(`                  rounds: ${runs.map((r) => fmt(r.rowsPerSec, 0)).join(', ')} rows/s`)
      }
    }
    if (scenario.name === 'incident-list' && fixtures.listPlans !== undefined) {
      const plans = Object.entries(fixtures.listPlans)
      const ok = plans.every(([, p]) => p.usesIndex && p.rows > 0)
      console.log(`  EXPLAIN: ${plans.map(([name, p]) => `${name} ${p.usesIndex ? 'uses' : 'does NOT use'} incidents_occurred_idx (${p.rows} rows)`).join('; ')}${ok ? '' : '   <-- CHECK FAILED'}`)
    }
    if (scenario.unit !== 'rows') console.log('  server      req/s avg (± sd)     p50 ms   p99 ms   requests   CPU µs/req: server   postgres   autocannon')
    for (const name of scenario.unit === 'rows' ? [] : settings.servers) {
      const runs = perServer.get(name) ?? []
      if (runs.length === 0) continue
      avg[name] = mean(runs, 'reqPerSec')
      console.log(`  ${name.padEnd(10)}  ${fmt(avg[name], 0).padStart(9)} (± ${fmt(mean(runs, 'reqPerSecStddev'), 0).padStart(5)})   ${fmt(mean(runs, 'p50')).padStart(6)}   ${fmt(mean(runs, 'p99')).padStart(6)}   ` +
        `${fmt(mean(runs, 'total'), 0).padStart(8)}               ${fmt(mean(runs, 'serverCpuUsPerReq'), 0).padStart(6)}   ${fmt(mean(runs, 'pgCpuUsPerReq'), 0).padStart(8)}   ${fmt(mean(runs, 'loadCpuUsPerReq'), 0).padStart(10)}`)
      if (runs.length > 1) console.log(`              rounds: ${runs.map((r) => fmt(r.reqPerSec, 0)).join(', ')} req/s`)
    }
    if (avg.cohesion !== undefined && avg.bare !== undefined) {
      const ratio = avg.cohesion / avg.bare
      const met = ratio >= scenario.target
      allMet &&= met
      console.log(`  ratio cohesion/${scenario.unit === 'rows' ? 'floor' : 'bare'} = ${ratio.toFixed(3)}   target ≥ ${scenario.target.toFixed(2)}: ${met ? 'MET' : 'NOT MET'}`)
    } else {
      console.log('  ratio: needs both servers (BENCH_SERVERS=cohesion,bare)')
    }
  }
  console.log('\n' + (allMet ? 'All targets met.' : 'TARGET NOT MET for at least one scenario (see above).'))
  console.log('='.repeat(100))
}

function navigatorCpus () {
  try { return readFileSync('/proc/cpuinfo', 'utf8').split('\n').filter((l) => l.startsWith('processor')).length } catch { return '?' }
}

const selected = (s) => settings.only === undefined || settings.only.includes(s.name)

// ---------------------------------------------------------------------------------------------------------
// Main
// ---------------------------------------------------------------------------------------------------------
let cleaning = null
async function cleanup () {
  cleaning ??= (async () => {
    for (const child of children) {
      child.kill('SIGTERM')
      await new Promise((resolve) => {
        const timer = setTimeout(() => { child.kill('SIGKILL'); resolve() }, 15_000)
        child.once('exit', () => { clearTimeout(timer); resolve() })
      })
    }
    if (settings.keep) {
      console.log(`Database kept (BENCH_KEEP=1): ${settings.databaseUrl}`)
    } else {
      await dropDatabase().catch((err) => console.error(`could not drop the bench database: ${err.message}`))
    }
  })()
  await cleaning
}

for (const signal of ['SIGINT', 'SIGTERM']) {
  process.once(signal, () => {
    console.error(`\n${signal}: stopping servers and cleaning up`)
    cleanup().finally(() => process.exit(130))
  })
}

async function main () {
  for (const name of settings.servers) if (servers[name] === undefined) throw new Error(`unknown server "${name}" in BENCH_SERVERS`)
  const chosen = scenarios.filter(selected)
  if (chosen.length === 0) throw new Error(`no scenario matches BENCH_SCENARIOS=${env.BENCH_SCENARIOS}`)

  const started = Date.now()
  const withIncidents = chosen.some((s) => s.incidents)
  process.stdout.write(`Preparing ${adminTarget().name}: drop, create, migrate, ${settings.cities} cities × ${settings.keysPerCity} keys ... `)
  await recreateDatabase()
  const fixtures = await prepareData(withIncidents)
  console.log(`done in ${((Date.now() - started) / 1000).toFixed(1)} s (${fixtures.keys} keys; city ${fixtures.citySlug})`)
  for (const scenario of chosen) if (scenario.prepare) await scenario.prepare(fixtures)

  const results = new Map(chosen.map((s) => [s.name, new Map()]))
  for (let round = 1; round <= settings.rounds; round++) {
    for (const name of settings.servers) {
      console.log(`${settings.rounds > 1 ? `Round ${round}: ` : ''}starting ${name}`)
      const server = await startServer(name)
      try {
        for (const scenario of chosen) {
          const m = scenario.run ? await scenario.run[name](server, fixtures) : await measure(server, scenario, fixtures)
          const perServer = results.get(scenario.name)
          if (!perServer.has(name)) perServer.set(name, [])
          perServer.get(name).push(m)
        }
      } finally {
        await stopServer(server)
      }
    }
  }
  report(results, fixtures)
}

try {
  await main()
  await cleanup()
} catch (err) {
  console.error('\n' + '!'.repeat(100))
  console.error(`BENCHMARK FAILED: ${err instanceof InvalidMeasurement ? err.message : (err?.stack ?? String(err))}`)
  console.error('!'.repeat(100))
  await cleanup()
  process.exitCode = 1
}
