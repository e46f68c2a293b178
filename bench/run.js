// Cohesion benchmark: how much throughput does the full API keep compared with a floor doing the same
// database work (a bare Fastify + pg server, or plain pg from this process)? Run with `npm run bench` (builds
// first). Not part of `npm test`. The defaults are what users get: Cohesion as a user starts it, at its
// default log level, then again at LOG_LEVEL=warn to show what logging costs.
//
// What it does:
//   1. drops and creates its own database (BENCH_DATABASE_URL), migrates it and generates BENCH_CITIES cities
//      with their keys (bench/data.js), then the seeds the selected scenarios name (bench/data.js SEEDS; the
//      incident scenarios: BENCH_INCIDENTS incidents in each of two cities), then each scenario's `prepare`;
//   2. for each scenario in turn, and each side of it one after the other: Cohesion at each of
//      BENCH_LOG_LEVELS, then the bare server, each started afresh as a child process for that scenario
//      alone (so that on a small machine only one competes with the load generator and PostgreSQL, and a
//      figure such as the export's peak memory is the scenario's own). A sliced scenario (the request
//      scenarios with a floor server, the ingest) starts all its sides at once and measures them in turns of
//      BENCH_DURATION / BENCH_SLICES seconds (or of its work), so that its ratios compare the machine in the
//      same state;
//   3. counts the SQL round trips per operation of the scenarios' `roundTrips` (bench/round-trips.js): a
//      Cohesion child at its default log level connected through a counting proxy, BENCH_ROUND_TRIPS requests
//      of each operation one after the other, after a warm-up;
//   4. prints, per scenario, each side's throughput, latency and CPU µs per request (per row for ingest) of
//      the server, of PostgreSQL and of this process (the load generator), each Cohesion row's ratio to the
//      floor and its target; then a summary and the round trips. The exit code is 0 whether targets are met
//      or not; only an invalid measurement (an error answer, an item not created, a wrong count) exits 1, and
//      a failed note (the list's plan check) is flagged in the verdict;
//   5. stops the servers and drops the database (unless BENCH_KEEP=1).
//
// Scenarios are the modules in bench/scenarios/, found by this runner (alphabetical order); each describes
// itself in its header. A module's default export:
//   name, description(settings)   the name BENCH_SCENARIOS selects, and the headline printed above its table;
//   target                        the lowest acceptable ratio cohesion/floor: a number, or per log level
//                                 ({ default, warn }; a level without its own uses `default`'s); null for a
//                                 scenario without a floor, which judges itself in `verdicts`;
//   unit                          'request' or 'row': what rates and CPU figures are counted per;
//   seeds                         names of SEEDS (bench/data.js) it needs; each is generated once;
//   floorLabel                    how the floor's row is labelled;
//   prepare(ctx)                  optional, once after the data is ready;
//   cohesion(server, ctx), floor(server, ctx)
//                                 one measurement each: { rate, rateSd?, p50, p99 (ms), units, requests,
//                                 cpu: { server, postgres, load } (µs per unit) }; bench/harness.js
//                                 measureRequests does it for a request with autocannon. `floor: null`: the
//                                 scenario has no floor (the bare server is not started for it, no ratio);
//   notes(ctx)                    optional: [{ text, ok }] printed under the headline; a failed one is reported;
//   verdicts(ctx)                 optional, for a scenario without a floor: its own targets, [{ label, figure,
//                                 target, met }] (texts and a boolean), printed and summed up with the ratios;
//   sliced                        optional: true for a scenario whose sides take turns in slices of its
//                                 duration or its work (measureAlternately), its measurement functions
//                                 honouring ctx.slice ({ index, count }) as measureRequests does;
//   afterMeasuring(ctx)           optional: undoes what the sides wrote, once they have all been measured (each round);
//   roundTrips, afterRoundTrips(ctx)
//                                 optional: operations whose round trips are counted ({ name, setup(server,
//                                 ctx, count)?, send(server, ctx, state, i) }), and what undoes their writes.
// `ctx` is { settings (below), fixtures (bench/data.js, plus what seeds and prepare add), database
// (bench/harness.js benchDatabase) }. A server is { label, url, pid }.
//
// Settings (environment):
//   BENCH_DATABASE_URL    postgres://postgres@127.0.0.1:5432/cohesion_bench (dropped and re-created!)
//   BENCH_DURATION        seconds measured per request scenario and side (20; in BENCH_SLICES slices)
//   BENCH_WARMUP          seconds of warm-up of each side before its first measurement (5)
//   BENCH_CONNECTIONS     concurrent connections of the request scenarios (20)
//   BENCH_PIPELINING      requests in flight per connection (1)
//   BENCH_ROUNDS          how many times each scenario's sides run in turn; figures are averaged (1)
//   BENCH_SLICES          a sliced scenario's BENCH_DURATION (or work) is measured in this many slices per
//                         side, the sides taking turns (5)
//   BENCH_POOL_SIZE       database pool size of both servers (10, Cohesion's default)
//   BENCH_CITIES          cities generated (200)
//   BENCH_KEYS_PER_CITY   API keys per city (3)
//   BENCH_SCENARIOS       comma-separated scenario names to run (all); seeds are generated only when needed
//   BENCH_SERVERS         comma-separated sides to run: cohesion,bare (both; the ratios need both)
//   BENCH_LOG_LEVELS      comma-separated log levels Cohesion runs at, each a side of its own: "default"
//                         (LOG_LEVEL unset: Cohesion's default) or a pino level (default,warn). LOG_LEVEL in
//                         this environment is ignored: this setting decides.
//   BENCH_INCIDENTS       incidents seeded in each of the two incident cities (200000); the ingest writes into
//                         and the list reads from the same city, so both run at this size (one setting on
//                         purpose: BENCH_INCIDENTS=1000000 for the list at a million, the ingest then too)
//   BENCH_ROUND_TRIPS     requests per operation whose round trips are counted (20; 0 skips the count)
//   BENCH_KEEP=1          keep the database and the servers' logs afterwards
//   BENCH_NODE_ARGS       extra node flags for the server children, e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof"
//   read by bench/scenarios/incident-ingest.js:
//   BENCH_INGEST_ROWS     reports sent per ingest measurement (50000)
//   BENCH_INGEST_BATCH    reports per batch request / INSERT statement (1000; Cohesion accepts at most 1,000)
//   BENCH_INGEST_CLIENTS  concurrent ingest clients / floor connections (4)
//   BENCH_INGEST_WARMUP   batches sent before each ingest measurement, not counted (8; 0 for none)
//   BENCH_INGEST_PERSONAL share of reports carrying personal fields, 0-1 (0.5)
//   read by bench/scenarios/incident-list.js:
//   BENCH_LIST_FROM       occurred_from of the list (2024-04-01)
//   BENCH_LIST_TO         occurred_to of the list (2024-06-30)
//   BENCH_LIST_CODE       bias_motivation of the list (14)
//   BENCH_STAKEHOLDERS    stakeholders seeded in the chosen city for the assessment (2000)
//   BENCH_RELATIONSHIPS   relationships seeded between them (20000)
//   read by bench/scenarios/stakeholder-assessment.js:
//   BENCH_ASSESSMENT_REQUESTS  assessments measured, one after the other (30)
//   BENCH_ASSESSMENT_WARMUP    assessments before them, not counted (3)
// Cohesion's other settings (AUTH_CACHE_TTL_MS, MAX_EVENT_LOOP_DELAY_MS, ...) are passed through from this
// environment, so that each can be toggled to see what it costs. The bench sets DATABASE_URL, ENCRYPTION_KEY
// (one random key per run), DATABASE_POOL_SIZE, PORT, HOST and BOOTSTRAP=false, and defaults RATE_LIMIT_MAX to
// 1000000 (the limiter still runs; at its default of 600 a minute every measurement would be 429s).
// Cohesion's stdout, its log, goes to a file, as `node dist/server.js > cohesion.log` would; the warnings and
// errors in it are printed when the server stops.
import { spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { closeSync, createReadStream, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { sql } from 'drizzle-orm'
import { ConfigSchema } from '../dist/config.js'
import { openDatabase } from '../dist/db/client.js'
import { migrate } from '../dist/db/migrate.js'
import { seed, SEEDS } from './data.js'
import { benchDatabase, fmt, InvalidMeasurement, list, mergeSlices, positive, sleep } from './harness.js'
import { countRoundTrips, startCountingProxy } from './round-trips.js'

const ROOT = fileURLToPath(new URL('..', import.meta.url))
const env = process.env

const settings = {
  databaseUrl: env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/cohesion_bench',
  duration: positive('BENCH_DURATION', 20),
  warmup: positive('BENCH_WARMUP', 5, { zero: true }),
  connections: positive('BENCH_CONNECTIONS', 20),
  pipelining: positive('BENCH_PIPELINING', 1),
  rounds: positive('BENCH_ROUNDS', 1),
  slices: positive('BENCH_SLICES', 5),
  poolSize: positive('BENCH_POOL_SIZE', 10),
  cities: positive('BENCH_CITIES', 200),
  keysPerCity: positive('BENCH_KEYS_PER_CITY', 3),
  only: list('BENCH_SCENARIOS'),
  servers: list('BENCH_SERVERS') ?? ['cohesion', 'bare'],
  logLevels: list('BENCH_LOG_LEVELS') ?? ['default', 'warn'],
  incidents: positive('BENCH_INCIDENTS', 200_000),
  stakeholders: positive('BENCH_STAKEHOLDERS', 2_000),
  relationships: positive('BENCH_RELATIONSHIPS', 20_000),
  roundTrips: positive('BENCH_ROUND_TRIPS', 20, { zero: true }),
  keep: env.BENCH_KEEP === '1',
  nodeArgs: list('BENCH_NODE_ARGS', ' ') ?? []
}
const database = benchDatabase(settings.databaseUrl)

/** Cohesion's own log levels and default, from its configuration schema, so the labels say what ran. */
const LOG_LEVEL = ConfigSchema.properties.LOG_LEVEL
for (const level of settings.logLevels) {
  if (level !== 'default' && !LOG_LEVEL.enum.includes(level)) throw new Error(`BENCH_LOG_LEVELS: "${level}" is neither "default" nor one of ${LOG_LEVEL.enum.join(', ')}`)
}
for (const name of settings.servers) if (!['cohesion', 'bare'].includes(name)) throw new Error(`unknown server "${name}" in BENCH_SERVERS (cohesion, bare)`)

const levelLabel = (level) => level === 'default' ? `LOG_LEVEL default (${LOG_LEVEL.default})` : `LOG_LEVEL=${level}`
/** Warm-up requests of each operation before its round trips are counted (twice: see bench/round-trips.js). */
const ROUND_TRIP_WARMUP = 3
/** Cohesion settings worth showing next to the figures when they are set. */
const SHOWN_SETTINGS = ['RATE_LIMIT_MAX', 'AUTH_CACHE_TTL_MS', 'MAX_EVENT_LOOP_DELAY_MS', 'TRUST_PROXY', 'CORS_ORIGINS', 'DATABASE_STATEMENT_TIMEOUT_MS']
const COHESION_DEFAULTS = { RATE_LIMIT_MAX: '1000000' }

// ---------------------------------------------------------------------------------------------------------
// Scenarios: every module in bench/scenarios/.
// ---------------------------------------------------------------------------------------------------------
async function loadScenarios () {
  const dir = new URL('./scenarios/', import.meta.url)
  const files = readdirSync(dir).filter((f) => f.endsWith('.js')).sort()
  const scenarios = []
  for (const file of files) {
    const scenario = (await import(new URL(file, dir).href)).default
    const missing = ['name', 'description', 'target', 'unit', 'seeds', 'floorLabel', 'cohesion', 'floor'].filter((k) => scenario?.[k] === undefined)
    if (missing.length > 0) throw new Error(`bench/scenarios/${file} does not export ${missing.join(', ')}`)
    for (const name of scenario.seeds) if (SEEDS[name] === undefined) throw new Error(`bench/scenarios/${file} needs an unknown seed "${name}"`)
    scenarios.push(scenario)
  }
  return scenarios
}

const targetOf = (scenario, level) => typeof scenario.target === 'number' ? scenario.target : scenario.target[level] ?? scenario.target.default

// ---------------------------------------------------------------------------------------------------------
// Servers: Cohesion at each log level, and the bare baseline, each started as a child process.
// ---------------------------------------------------------------------------------------------------------
const ENCRYPTION_KEY = randomBytes(32).toString('base64')
const logDir = mkdtempSync(join(tmpdir(), 'cohesion-bench-'))
const children = new Set()
let logCount = 0

/** The sides to run for the chosen scenarios: the bare server only when one of them has a floor. */
function sidesToRun (chosen) {
  const sides = []
  if (settings.servers.includes('cohesion')) {
    for (const level of settings.logLevels) sides.push({ key: `cohesion:${level}`, kind: 'cohesion', level, label: `cohesion, ${levelLabel(level)}` })
  }
  if (settings.servers.includes('bare') && chosen.some((s) => s.floor !== null)) sides.push({ key: 'bare', kind: 'floor', label: 'bare' })
  return sides
}

function childSpec (side, port, databaseUrl) {
  if (side.kind === 'floor') {
    return {
      script: 'bench/bare-server.js',
      readyPath: '/health',
      env: { ...env, DATABASE_URL: databaseUrl, DATABASE_POOL_SIZE: String(settings.poolSize), PORT: String(port), HOST: '127.0.0.1' }
    }
  }
  const childEnv = {
    ...COHESION_DEFAULTS,
    ...env,
    DATABASE_URL: databaseUrl,
    ENCRYPTION_KEY,
    DATABASE_POOL_SIZE: String(settings.poolSize),
    PORT: String(port),
    HOST: '127.0.0.1',
    BOOTSTRAP: 'false'
  }
  delete childEnv.LOG_LEVEL
  if (side.level !== 'default') childEnv.LOG_LEVEL = side.level
  return { script: 'dist/server.js', readyPath: '/health/ready', env: childEnv }
}

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

/** Starts a side as a child: its stdout to a log file, its stderr to ours; answers once it is ready. */
async function startServer (side, databaseUrl = settings.databaseUrl) {
  const port = await freePort()
  const spec = childSpec(side, port, databaseUrl)
  const logFile = join(logDir, `${String(++logCount).padStart(2, '0')}-${side.key.replace(/[^a-z0-9]+/g, '-')}.log`)
  const out = openSync(logFile, 'a')
  const child = spawn(process.execPath, [...settings.nodeArgs, spec.script], { cwd: ROOT, env: spec.env, stdio: ['ignore', out, 'pipe'] })
  closeSync(out)
  children.add(child)
  let rest = ''
  child.stderr.setEncoding('utf8')
  child.stderr.on('data', (chunk) => {
    const lines = (rest + chunk).split('\n')
    rest = lines.pop()
    for (const line of lines) if (line.trim() !== '') process.stderr.write(`  [${side.label}] ${line}\n`)
  })
  let exited = null
  child.on('exit', (code, signal) => { exited = { code, signal }; children.delete(child) })
  const server = { label: side.label, url: `http://127.0.0.1:${port}`, pid: child.pid, child, logFile }
  const deadline = Date.now() + 30_000
  for (;;) {
    if (exited !== null) {
      await printLog(server, { all: true })
      throw new Error(`${side.label} exited before it was ready (code ${exited.code}, signal ${exited.signal})`)
    }
    try {
      const res = await fetch(server.url + spec.readyPath)
      if (res.status === 200) break
    } catch {}
    if (Date.now() > deadline) throw new Error(`${side.label} did not become ready within 30 s`)
    await sleep(100)
  }
  return server
}

async function stopServer (server) {
  const { child } = server
  if (child.exitCode === null && child.signalCode === null) {
    const done = new Promise((resolve) => child.once('exit', resolve))
    child.kill('SIGTERM')
    const timer = setTimeout(() => child.kill('SIGKILL'), 15_000)
    await done
    clearTimeout(timer)
  }
  await printLog(server)
}

/** After a server stops: the size of its log, and every line of it above info (all lines with `all`, or not JSON). */
async function printLog (server, { all = false } = {}) {
  const shownAtMost = 20
  let lines = 0
  let shown = 0
  for await (const line of createInterface({ input: createReadStream(server.logFile), crlfDelay: Infinity })) {
    lines++
    let level = 100
    try { level = JSON.parse(line).level ?? 100 } catch {}
    if ((all || level >= 40) && shown++ < shownAtMost) process.stdout.write(`  [${server.label}] ${line.slice(0, 1000)}\n`)
  }
  if (shown > shownAtMost) console.log(`  [${server.label}] ... ${shown - shownAtMost} more such lines in ${server.logFile}`)
  if (lines > 0) console.log(`  ${server.label}: ${fmt(lines, 0)} log lines, ${fmt(statSync(server.logFile).size / 1e6)} MB`)
}

// ---------------------------------------------------------------------------------------------------------
// Database
// ---------------------------------------------------------------------------------------------------------
/** Migrates, seeds the cities and keys, then the seeds the chosen scenarios need; answers the fixtures. */
async function prepareData (seeds) {
  const opened = await openDatabase({
    DATABASE_URL: settings.databaseUrl,
    DATA_DIR: '/nonexistent',
    DATABASE_POOL_SIZE: 2,
    DATABASE_CONNECT_TIMEOUT_MS: 10_000,
    DATABASE_STATEMENT_TIMEOUT_MS: 600_000
  })
  try {
    await migrate(opened, settings.databaseUrl)
    const fixtures = await seed(opened.db, { cities: settings.cities, keysPerCity: settings.keysPerCity })
    for (const name of seeds) await SEEDS[name]({ db: opened.db, database, settings, fixtures })
    await opened.db.execute(sql`ANALYZE`)
    return fixtures
  } finally {
    await opened.close()
  }
}

// ---------------------------------------------------------------------------------------------------------
// Report
// ---------------------------------------------------------------------------------------------------------
const mean = (runs, get) => runs.reduce((sum, r) => sum + get(r), 0) / runs.length

/** Columns of a scenario's table: the side, then rate, latency, count and CPU per unit. */
const COLUMNS = [38, 9, 11, 8, 8, 16, 20, 9, 6]
const row = (cells) => '  ' + cells.map((cell, i) => i === 0 || i === 2 ? cell.padEnd(COLUMNS[i]) : cell.padStart(COLUMNS[i])).join(' ')

function tableHeader (unit) {
  const per = unit === 'request' ? 'req' : unit
  return row(['side', `${per}${per === 'req' ? '' : 's'}/s`, '(± sd)', 'p50 ms', 'p99 ms', unit === 'request' ? 'requests' : `${unit}s (requests)`,
    `CPU µs/${per}: server`, 'postgres', 'load'])
}

function tableRow (label, runs) {
  const avg = (get) => mean(runs, get)
  const units = fmt(avg((r) => r.units), 0)
  return row([
    label,
    fmt(avg((r) => r.rate), avg((r) => r.rate) < 10 ? 2 : 0), // a report answered in seconds still shows its rate
    runs[0].rateSd === undefined ? '' : `(± ${fmt(avg((r) => r.rateSd), 0)})`,
    fmt(avg((r) => r.p50)),
    fmt(avg((r) => r.p99)),
    runs[0].units === runs[0].requests ? units : `${units} (${fmt(avg((r) => r.requests), 0)})`,
    fmt(avg((r) => r.cpu.server), 0),
    fmt(avg((r) => r.cpu.postgres), 0),
    fmt(avg((r) => r.cpu.load), 0)
  ])
}

function report (chosen, sides, results, roundTrips, ctx) {
  const shown = { ...COHESION_DEFAULTS, ...Object.fromEntries(SHOWN_SETTINGS.filter((n) => env[n]).map((n) => [n, env[n]])) }
  const line = '='.repeat(120)
  console.log('\n' + line)
  console.log(`Cohesion benchmark — ${settings.connections} connections, pipelining ${settings.pipelining}, ${settings.duration} s per run (+${settings.warmup} s warm-up), ` +
    `${settings.rounds} round(s), pool ${settings.poolSize}, ${settings.cities} cities`)
  console.log(`Machine: ${cpuCount()} CPU(s), node ${process.version}; load generator in this process, servers as children, measured one at a time`)
  console.log(`Cohesion: ${settings.logLevels.map(levelLabel).join(', then ')}; ${Object.entries(shown).map(([k, v]) => `${k}=${v}`).join(' ')}`)
  const verdicts = []
  let checksOk = true
  for (const scenario of chosen) {
    const perSide = results.get(scenario.name)
    const unit = scenario.unit
    console.log(`\n${scenario.name}: ${scenario.description(settings)}`)
    for (const note of scenario.notes?.(ctx) ?? []) {
      checksOk &&= note.ok
      console.log(`  ${note.text}${note.ok ? '' : '   <-- CHECK FAILED'}`)
    }
    console.log(tableHeader(unit))
    for (const side of sides) {
      const runs = perSide.get(side.key) ?? []
      if (runs.length === 0) continue
      console.log(tableRow(side.kind === 'floor' ? scenario.floorLabel : side.label, runs))
      if (runs.length > 1) console.log(`  ${''.padEnd(COLUMNS[0])} rounds: ${runs.map((r) => fmt(r.rate, 0)).join(', ')}`)
      for (const r of runs) if (r.slices !== undefined) console.log(`  ${''.padEnd(COLUMNS[0])} slices: ${r.slices.map((rate) => fmt(rate, 0)).join(', ')}`)
    }
    for (const v of scenario.verdicts?.(ctx) ?? []) {
      verdicts.push({ scenario: scenario.name, ...v })
      console.log(`  ${v.label}: ${v.figure}   target ${v.target}: ${v.met ? 'MET' : 'NOT MET'}`)
    }
    if (scenario.floor === null) continue
    const floorRuns = perSide.get('bare') ?? []
    for (const side of sides.filter((s) => s.kind === 'cohesion')) {
      const runs = perSide.get(side.key) ?? []
      const target = targetOf(scenario, side.level)
      if (runs.length === 0 || floorRuns.length === 0) {
        console.log(`  ratio ${side.label}: needs both servers (BENCH_SERVERS=cohesion,bare)`)
        continue
      }
      const ratio = mean(runs, (r) => r.rate) / mean(floorRuns, (r) => r.rate)
      const met = ratio >= target
      verdicts.push({ scenario: scenario.name, label: levelLabel(side.level), figure: ratio.toFixed(3), target: `≥ ${target.toFixed(2)}`, met })
      console.log(`  ratio ${side.label} / ${scenario.floorLabel.split(' ')[0]} = ${ratio.toFixed(3)}   target ≥ ${target.toFixed(2)}: ${met ? 'MET' : 'NOT MET'}`)
    }
  }

  if (verdicts.length > 0) {
    console.log('\nSummary: ratio cohesion/floor (or the scenario\'s own figure) and target')
    for (const v of verdicts) {
      console.log(`  ${v.scenario.padEnd(22)} ${v.label.padEnd(28)} ${v.figure}   ${v.target}   ${v.met ? 'MET' : 'NOT MET'}`)
    }
  }
  if (roundTrips !== null) {
    console.log(`\nSQL round trips per request (Cohesion, ${levelLabel('default')}; a proxy counts simple queries and extended-protocol Syncs; ` +
      `${settings.roundTrips} requests each, one at a time, after a warm-up; idle baseline ${fmt(roundTrips.idlePerSecond, 2)}/s subtracted)`)
    console.log(`  ${'operation'.padEnd(52)} ${'round trips'.padStart(11)}   of which simple queries   fewest-most in one request`)
    for (const r of roundTrips.results) {
      console.log(`  ${r.name.padEnd(52)} ${fmt(r.perRequest, 2).padStart(11)}   ${fmt(r.simplePerRequest, 2).padStart(23)}   ${`${r.min}-${r.max}`.padStart(26)}`)
    }
  }
  const allMet = verdicts.every((v) => v.met)
  console.log('\n' + (!checksOk ? 'A CHECK FAILED (see above); ' : '') + (allMet ? 'All targets met.' : 'TARGET NOT MET for at least one scenario (see above).'))
  console.log(line)
}

function cpuCount () {
  try { return readFileSync('/proc/cpuinfo', 'utf8').split('\n').filter((l) => l.startsWith('processor')).length } catch { return '?' }
}

// ---------------------------------------------------------------------------------------------------------
// Main
// ---------------------------------------------------------------------------------------------------------
const proxies = new Set()
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
    for (const proxy of proxies) await proxy.close()
    if (settings.keep) {
      console.log(`Kept (BENCH_KEEP=1): the database ${settings.databaseUrl} and the servers' logs in ${logDir}`)
    } else {
      await database.drop().catch((err) => console.error(`could not drop the bench database: ${err.message}`))
      rmSync(logDir, { recursive: true, force: true })
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

/** Round trips of every chosen scenario's operations, through a Cohesion child connected via the counting proxy. */
async function measureRoundTrips (chosen, ctx) {
  const operations = chosen.flatMap((s) => s.roundTrips ?? [])
  if (settings.roundTrips === 0 || operations.length === 0 || !settings.servers.includes('cohesion')) return null
  console.log(`Counting round trips: ${operations.length} operations × ${settings.roundTrips} requests, through a counting proxy`)
  const proxy = await startCountingProxy(settings.databaseUrl)
  proxies.add(proxy)
  const side = { key: 'cohesion-round-trips', kind: 'cohesion', level: 'default', label: 'cohesion (round trips)' }
  const server = await startServer(side, proxy.url)
  try {
    return await countRoundTrips(server, ctx, proxy, operations, { requests: settings.roundTrips, warmup: ROUND_TRIP_WARMUP })
  } finally {
    await stopServer(server)
    await proxy.close()
    proxies.delete(proxy)
    for (const scenario of chosen) await scenario.afterRoundTrips?.(ctx)
  }
}

/**
 * A sliced scenario's sides are all started, then measured in turn, BENCH_SLICES times each, a slice of
 * BENCH_DURATION / BENCH_SLICES seconds (or of the scenario's work) at a time (the order reversed every other pass): a side's figures are
 * the mean of its slices, so that a change in the machine's speed during the scenario weighs on every side
 * alike. The warm-up runs before a side's first slice only. Servers not being measured sit idle.
 */
async function measureAlternately (scenario, own, ctx, roundLabel) {
  const servers = []
  try {
    for (const side of own) {
      console.log(`${roundLabel}starting ${side.label}`)
      servers.push({ side, server: await startServer(side), slices: [] })
    }
    for (let index = 0; index < settings.slices; index++) {
      const order = index % 2 === 0 ? servers : [...servers].reverse()
      for (const entry of order) {
        entry.slices.push(await scenario[entry.side.kind](entry.server, { ...ctx, slice: { index, count: settings.slices } }))
      }
    }
    return servers.map(({ side, slices }) => [side, mergeSlices(slices)])
  } finally {
    for (const { server } of servers) await stopServer(server)
  }
}

async function main () {
  const scenarios = await loadScenarios()
  const chosen = scenarios.filter((s) => settings.only === undefined || settings.only.includes(s.name))
  if (chosen.length === 0) throw new Error(`no scenario matches BENCH_SCENARIOS=${env.BENCH_SCENARIOS} (there are: ${scenarios.map((s) => s.name).join(', ')})`)
  if (env.LOG_LEVEL) console.log(`LOG_LEVEL=${env.LOG_LEVEL} is ignored: BENCH_LOG_LEVELS (${settings.logLevels.join(',')}) decides Cohesion's log levels`)
  const sides = sidesToRun(chosen)

  const started = Date.now()
  const seeds = [...new Set(chosen.flatMap((s) => s.seeds))]
  process.stdout.write(`Preparing ${database.name}: drop, create, migrate, ${settings.cities} cities × ${settings.keysPerCity} keys${seeds.length > 0 ? `, seeds: ${seeds.join(', ')}` : ''} ... `)
  await database.recreate()
  const fixtures = await prepareData(seeds)
  console.log(`done in ${((Date.now() - started) / 1000).toFixed(1)} s (${fixtures.keys} keys; city ${fixtures.citySlug})`)
  const ctx = { settings, fixtures, database }
  for (const scenario of chosen) await scenario.prepare?.(ctx)

  const results = new Map(chosen.map((s) => [s.name, new Map()]))
  for (const scenario of chosen) {
    console.log(`${scenario.name}:`)
    const own = sides.filter((side) => scenario[side.kind] !== null)
    const perSide = results.get(scenario.name)
    const record = (side, m) => {
      if (!perSide.has(side.key)) perSide.set(side.key, [])
      perSide.get(side.key).push(m)
    }
    for (let round = 1; round <= settings.rounds; round++) {
      const roundLabel = settings.rounds > 1 ? `Round ${round}: ` : ''
      if (scenario.sliced === true) {
        for (const [side, m] of await measureAlternately(scenario, own, ctx, roundLabel)) record(side, m)
      } else {
        for (const side of own) {
          console.log(`${roundLabel}starting ${side.label}`)
          const server = await startServer(side)
          try {
            record(side, await scenario[side.kind](server, ctx))
          } finally {
            await stopServer(server)
          }
        }
      }
      await scenario.afterMeasuring?.(ctx)
    }
  }
  const roundTrips = await measureRoundTrips(chosen, ctx)
  report(chosen, sides, results, roundTrips, ctx)
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
