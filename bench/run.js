// Cohesion benchmark: how much throughput does the full API keep compared with a bare Fastify + pg server
// doing the same database work? Run with `npm run bench` (builds first). Not part of `npm test`.
//
// What it does:
//   1. drops and creates its own database (BENCH_DATABASE_URL), migrates it and generates data;
//   2. for each server (Cohesion, then the bare baseline; one at a time, as a child process), runs every
//      scenario with autocannon in this process: a short warm-up, then the measurement;
//   3. prints throughput, latency and CPU per request for each, the ratio cohesion/bare, and whether the
//      scenario's target is met (the exit code is 0 either way; only an invalid measurement exits 1);
//   4. stops the servers and drops the database (unless BENCH_KEEP=1).
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
//   BENCH_SCENARIOS      comma-separated scenario names to run (all)
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
import { fileURLToPath } from 'node:url'
import autocannon from 'autocannon'
import { sql } from 'drizzle-orm'
import pg from 'pg'
import { openDatabase } from '../dist/db/client.js'
import { migrate } from '../dist/db/migrate.js'
import { seed } from './data.js'

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
  nodeArgs: list('BENCH_NODE_ARGS', ' ') ?? []
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
// ratio cohesion/bare. Add incident ingest, incident listing, ... here as further entries; `fixtures` is
// whatever bench/data.js returned.
// ---------------------------------------------------------------------------------------------------------
const scenarios = [
  {
    name: 'city-read',
    title: 'GET /v1/city: authenticated read of one row by primary key',
    target: 0.80,
    cohesion: (f) => ({ method: 'GET', path: '/v1/city', headers: { authorization: `Bearer ${f.adminKey}` } }),
    bare: (f) => ({ method: 'GET', path: `/city/${f.cityId}` }),
    check: (body, f) => body.id === f.cityId && body.slug === f.citySlug
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

async function prepareData () {
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
    await database.db.execute(sql`ANALYZE`)
    return fixtures
  } finally {
    await database.close()
  }
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
// Report
// ---------------------------------------------------------------------------------------------------------
function fmt (n, digits = 1) {
  return Number.isFinite(n) ? n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits }) : '-'
}

function mean (runs, key) {
  return runs.reduce((sum, r) => sum + r[key], 0) / runs.length
}

function report (results) {
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
    console.log('  server      req/s avg (± sd)     p50 ms   p99 ms   requests   CPU µs/req: server   postgres   autocannon')
    const avg = {}
    for (const name of settings.servers) {
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
      console.log(`  ratio cohesion/bare = ${ratio.toFixed(3)}   target ≥ ${scenario.target.toFixed(2)}: ${met ? 'MET' : 'NOT MET'}`)
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
  process.stdout.write(`Preparing ${adminTarget().name}: drop, create, migrate, ${settings.cities} cities × ${settings.keysPerCity} keys ... `)
  await recreateDatabase()
  const fixtures = await prepareData()
  console.log(`done in ${((Date.now() - started) / 1000).toFixed(1)} s (${fixtures.keys} keys; city ${fixtures.citySlug})`)

  const results = new Map(chosen.map((s) => [s.name, new Map()]))
  for (let round = 1; round <= settings.rounds; round++) {
    for (const name of settings.servers) {
      console.log(`${settings.rounds > 1 ? `Round ${round}: ` : ''}starting ${name}`)
      const server = await startServer(name)
      try {
        for (const scenario of chosen) {
          const m = await measure(server, scenario, fixtures)
          const perServer = results.get(scenario.name)
          if (!perServer.has(name)) perServer.set(name, [])
          perServer.get(name).push(m)
        }
      } finally {
        await stopServer(server)
      }
    }
  }
  report(results)
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
