// What the runner and every scenario share: reading settings, the bench database's sessions, CPU accounting
// from /proc, the autocannon measurement of request scenarios, and number formatting. No side effects on
// import, so a scenario module can be loaded on its own.
import { readFileSync } from 'node:fs'
import autocannon from 'autocannon'
import pg from 'pg'

/** A measurement that must not be reported: the runner stops the bench and exits 1. */
export class InvalidMeasurement extends Error {}

// ---------------------------------------------------------------------------------------------------------
// Settings from the environment: a bad value stops the bench before anything is dropped or started.
// ---------------------------------------------------------------------------------------------------------
const env = process.env

/** A number ≥ 1 (≥ 0 with `zero`), or the fallback when the variable is unset or empty. */
export function positive (name, fallback, { zero = false } = {}) {
  if (env[name] === undefined || env[name] === '') return fallback
  const value = Number(env[name])
  if (!Number.isFinite(value) || value < (zero ? 0 : 1)) throw new Error(`${name} must be a ${zero ? 'non-negative' : 'positive'} number (got ${env[name]})`)
  return value
}

/** A share between 0 and 1. */
export function share (name, fallback) {
  const value = positive(name, fallback, { zero: true })
  if (value > 1) throw new Error(`${name} must be between 0 and 1 (got ${value})`)
  return value
}

export function date (name, fallback) {
  const value = env[name] || fallback
  if (!/^\d{4}-\d{2}-\d{2}$/.test(value)) throw new Error(`${name} must be a date YYYY-MM-DD (got ${value})`)
  return value
}

export function list (name, separator = ',') {
  return env[name] ? env[name].split(separator).map((s) => s.trim()).filter(Boolean) : undefined
}

// ---------------------------------------------------------------------------------------------------------
// The bench database: dropped and re-created by every run, so its name must say it belongs to a bench.
// ---------------------------------------------------------------------------------------------------------
export function benchDatabase (databaseUrl) {
  const url = new URL(databaseUrl)
  const name = decodeURIComponent(url.pathname.replace(/^\//, ''))
  if (!/^[a-z0-9_]+$/.test(name) || !name.includes('bench')) {
    throw new Error(`BENCH_DATABASE_URL must name a database whose name contains "bench" (lowercase, digits, _); got "${name}"`)
  }
  url.pathname = '/postgres'
  const adminUrl = url.toString()

  const session = async (connectionString, applicationName, fn) => {
    const client = new pg.Client({ connectionString, application_name: applicationName })
    await client.connect()
    try { return await fn(client) } finally { await client.end() }
  }
  /** A session on the maintenance database (create, drop, pg_stat_activity). */
  const withAdmin = (fn) => session(adminUrl, 'cohesion-bench', fn)
  /** A session on the bench database itself (VACUUM, CHECKPOINT, counts, EXPLAIN). */
  const withBench = (fn) => session(databaseUrl, 'cohesion-bench-admin', fn)

  return {
    name,
    url: databaseUrl,
    withAdmin,
    withBench,
    async recreate () {
      await withAdmin(async (c) => {
        await c.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`)
        await c.query(`CREATE DATABASE "${name}"`)
      })
    },
    async drop () {
      await withAdmin(async (c) => { await c.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`) })
    },
    /** Backend pids serving the bench database (other than the asking session), to charge PostgreSQL's CPU. */
    async backendPids () {
      return await withAdmin(async (c) => {
        const { rows } = await c.query('SELECT pid FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()', [name])
        return rows.map((r) => r.pid)
      })
    }
  }
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

/**
 * Starts counting the CPU time of the server (a pid, or null when the work runs in this process), of the bench
 * database's PostgreSQL backends and of this process (the load generator). `stop()` answers the microseconds
 * each spent since; a backend that started meanwhile (a pool that had closed an idle connection opens a new
 * one) counts whole, since all its time falls inside.
 */
export async function cpuMeter (serverPid, database) {
  const snapshot = (pids) => new Map(pids.map((pid) => [pid, cpuUs(pid)]))
  const since = (before, now) => {
    let total = 0
    for (const pid of new Set([...before.keys(), ...now])) {
      const start = before.has(pid) ? before.get(pid) : 0
      const end = cpuUs(pid)
      if (start !== null && end !== null) total += end - start
    }
    return total
  }
  const server = serverPid === null ? null : snapshot([serverPid])
  const postgres = snapshot(await database.backendPids())
  const self = process.cpuUsage()
  return {
    async stop () {
      const load = process.cpuUsage(self)
      const serverUs = server === null ? NaN : since(server, [serverPid])
      const postgresUs = since(postgres, await database.backendPids())
      return { server: serverUs, postgres: postgresUs, load: load.user + load.system }
    }
  }
}

// ---------------------------------------------------------------------------------------------------------
// Request scenarios: autocannon in this process against one server.
// ---------------------------------------------------------------------------------------------------------
async function load (url, request, settings, duration) {
  const { path = '/', ...rest } = request
  return await autocannon({ url: url + path, connections: settings.connections, pipelining: settings.pipelining, duration, ...rest })
}

function assertClean (label, result) {
  const codes = Object.entries(result.statusCodeStats ?? {}).map(([code, s]) => `${code}: ${s.count}`).join(', ')
  if (result.non2xx > 0 || result.errors > 0 || result.timeouts > 0) {
    throw new InvalidMeasurement(`${label}: ${result.non2xx} non-2xx responses, ${result.errors} errors, ${result.timeouts} timeouts (status codes: ${codes}). ` +
      'The figures would be meaningless; fix the cause (rate limit? load shedding? a failing route?) and run again.')
  }
  if (result.requests.total === 0) throw new InvalidMeasurement(`${label}: no request completed`)
}

/** One request before the load: it must answer 2xx, and `check` (if any) must accept the parsed body. */
async function probe (label, url, request, check) {
  const res = await fetch(url + (request.path ?? '/'), { method: request.method ?? 'GET', headers: request.headers, body: request.body })
  const text = await res.text()
  if (res.status < 200 || res.status > 299) throw new InvalidMeasurement(`${label}: probe answered ${res.status}: ${text.slice(0, 500)}`)
  if (check !== undefined) {
    let body
    try { body = JSON.parse(text) } catch { body = text }
    if (!check(body)) throw new InvalidMeasurement(`${label}: probe answered an unexpected body: ${text.slice(0, 500)}`)
  }
}

/**
 * Measures one request (an autocannon request: method, path, headers, body) against a server: a probe whose
 * body `check` must accept, a warm-up of BENCH_WARMUP seconds, then BENCH_DURATION seconds with
 * BENCH_CONNECTIONS connections; in a sliced scenario (ctx.slice), one slice of that time, the probe and the
 * warm-up before the first only. Any non-2xx answer, error or timeout makes the measurement invalid.
 * Answers the figures every scenario reports: rate per second, latency, count, and CPU µs per request.
 */
export async function measureRequests (ctx, server, { label, request, check }) {
  const { settings, database, slice = { index: 0, count: 1 } } = ctx
  const duration = settings.duration / slice.count
  const part = slice.count > 1 ? ` (slice ${slice.index + 1} of ${slice.count})` : ''
  if (slice.index === 0) {
    await probe(label, server.url, request, check)
    if (settings.warmup > 0) {
      process.stdout.write(`  ${label}: warm-up ${settings.warmup} s ... `)
      assertClean(`${label} (warm-up)`, await load(server.url, request, settings, settings.warmup))
      process.stdout.write('done\n')
    }
  }
  const meter = await cpuMeter(server.pid, database)
  process.stdout.write(`  ${label}: measuring ${fmt(duration, duration % 1 === 0 ? 0 : 1)} s${part} ... `)
  const result = await load(server.url, request, settings, duration)
  const cpu = await meter.stop()
  const total = result.requests.total
  process.stdout.write(`${fmt(result.requests.average, 0)} req/s\n`)
  assertClean(label, result)
  return {
    rate: result.requests.average,
    rateSd: result.requests.stddev,
    p50: result.latency.p50,
    p99: result.latency.p99,
    units: total,
    requests: total,
    cpu: { server: cpu.server / total, postgres: cpu.postgres / total, load: cpu.load / total }
  }
}

/**
 * One side's figures from its slices of equal length: the mean rate, spread and latencies, the counts summed,
 * and CPU per request over all of them; `slices` keeps each slice's rate for the report.
 */
export function mergeSlices (slices) {
  if (slices.length === 1) return slices[0]
  const avg = (get) => slices.reduce((sum, m) => sum + get(m), 0) / slices.length
  const requests = slices.reduce((sum, m) => sum + m.requests, 0)
  const cpu = (part) => slices.reduce((sum, m) => sum + m.cpu[part] * m.requests, 0) / requests
  return {
    rate: avg((m) => m.rate),
    // Slices measured without a spread of their own (batches) are spread across slices.
    rateSd: slices.every((m) => m.rateSd !== undefined) ? avg((m) => m.rateSd) : Math.sqrt(avg((m) => (m.rate - avg((n) => n.rate)) ** 2)),
    p50: avg((m) => m.p50),
    p99: avg((m) => m.p99),
    units: slices.reduce((sum, m) => sum + m.units, 0),
    requests,
    cpu: { server: cpu('server'), postgres: cpu('postgres'), load: cpu('load') },
    slices: slices.map((m) => m.rate)
  }
}

// ---------------------------------------------------------------------------------------------------------
// Formatting
// ---------------------------------------------------------------------------------------------------------
export function fmt (n, digits = 1) {
  return Number.isFinite(n) ? n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits }) : '-'
}

/** A memory figure of a process from /proc/<pid>/status (VmRSS, VmHWM), in MB. */
export function memoryMb (pid, field) {
  const match = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
  return match === null ? NaN : Number(match[1]) / 1024
}

export function percentile (values, p) {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p / 100 * sorted.length) - 1))]
}

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))
