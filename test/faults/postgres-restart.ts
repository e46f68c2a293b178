/**
 * Fault injection: the service under write load while its PostgreSQL restarts (`npm run test:faults`).
 *
 * Starts a throwaway PostgreSQL cluster and the built server (`node dist/server.js`) on it, has 50 clients
 * report incidents the way a careful partner does (a fresh Idempotency-Key per report, the same key and body on
 * every retry, retries on network errors, 5xx, 409 in flight and 429 as Retry-After says), and restarts
 * PostgreSQL in the middle. Then it reads the database to check that every acknowledged report is stored exactly
 * once, and prints one line per expectation. Exits 0 only when all of them hold.
 *
 * Needs the PostgreSQL server binaries (initdb, pg_ctl) on the machine; it never touches a running server.
 */
import { spawn } from 'node:child_process'
import { randomBytes, randomUUID } from 'node:crypto'
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import pg from 'pg'
import { freePort, root, waitForOk, type ServerProcess } from '../app/server-process.js'
import { run, ThrowawayCluster } from './postgres-cluster.js'

const CLIENTS = 50
const LOAD_MS = 20_000
const RESTART_AT_MS = 5_000
/** How long PostgreSQL stays down: long enough that requests and readiness probes meet the outage. */
const DOWN_MS = 3_000
/** Answers received this long after the database is back count as "after recovery". */
const RECOVERY_GRACE_MS = 1_000
/** A client stops retrying a report this long after its first attempt. */
const GIVE_UP_MS = 15_000
const REQUEST_TIMEOUT_MS = 10_000
const RETRY_AFTER_CAP_MS = 1_000
/** The pause before a retry when the answer names none (a network error, a 5xx without Retry-After). */
const DEFAULT_RETRY_MS = 200
const READINESS_EVERY_MS = 200
/** The readiness route gives the database 2 s; the rest is for answering. */
const READINESS_LIMIT_MS = 2_500
const DATABASE = 'cohesion_faults'
const SOURCE = 'fault-test'

const sleep = async (ms: number): Promise<void> => { await new Promise((resolve) => setTimeout(resolve, ms)) }
const now = (): number => performance.now()
const seconds = (ms: number): string => `${(ms / 1000).toFixed(2)} s`

// Cleanup that must run however the process ends: on a normal end, an exception, or a signal. Each step is
// synchronous so that an exit handler can run it; they run last registered first.
const cleanups: Array<() => void> = []
function cleanUp (): void {
  for (let step = cleanups.pop(); step !== undefined; step = cleanups.pop()) {
    try {
      step()
    } catch (err) {
      process.stderr.write(`cleanup failed: ${err instanceof Error ? err.message : String(err)}\n`)
    }
  }
}
process.on('exit', cleanUp)
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.once(signal, () => {
    process.stderr.write(`\n${signal}: stopping the server and the throwaway cluster\n`)
    cleanUp()
    process.exit(1)
  })
}

/** The environment of an operator's shell, without anything that would point the children elsewhere. */
function baseEnv (): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env }
  for (const name of Object.keys(env)) {
    if (/^(TAP|_TAPJS|TS_NODE_|NODE_OPTIONS$|TEST_DATABASE_URL$)/.test(name)) delete env[name]
  }
  for (const name of ['PORT', 'HOST', 'DATABASE_URL', 'DATA_DIR', 'ENCRYPTION_KEY', 'BOOTSTRAP', 'LOG_LEVEL', 'CORS_ORIGINS']) delete env[name]
  return env
}

/** Keeps only the end of a stream: the server logs every request, and only the last lines matter. */
function tail (limit: number): { push: (chunk: Buffer) => void, text: () => string } {
  let text = ''
  return { push: (chunk) => { text = (text + chunk.toString()).slice(-limit) }, text: () => text }
}

const lastLines = (text: string, count: number): string => text.trimEnd().split('\n').slice(-count).join('\n')

/** The message of the last error the server logged (pino JSON, level 50 and up), to say why it exited. */
function lastLoggedError (log: string): string | undefined {
  for (const line of log.trimEnd().split('\n').reverse()) {
    try {
      const entry = JSON.parse(line) as { level?: number, msg?: string, err?: { message?: string } }
      if ((entry.level ?? 0) >= 50 && (entry.err?.message ?? entry.msg) !== undefined) return entry.err?.message ?? entry.msg
    } catch {
      // Not a log line (or cut by the tail).
    }
  }
  return undefined
}

/** Runs the built server, as `npm start` does after building. */
function startBuiltServer (env: NodeJS.ProcessEnv): ServerProcess {
  const child = spawn(process.execPath, [join(root, 'dist/server.js')], { cwd: root, env, stdio: 'pipe' })
  const stdout = tail(64 * 1024)
  const stderr = tail(64 * 1024)
  child.stdout.on('data', stdout.push)
  child.stderr.on('data', stderr.push)
  const exited = new Promise<number | string | null>((resolve) => {
    child.on('close', (code, signal) => { resolve(code ?? signal) })
  })
  return { child, stdout: stdout.text, stderr: stderr.text, exited }
}

/** Runs `cohesion …` (dist/cli.js) and parses the JSON it prints. */
async function cohesion (env: NodeJS.ProcessEnv, ...args: string[]): Promise<Record<string, unknown>> {
  const result = await run(process.execPath, [join(root, 'dist/cli.js'), ...args], { cwd: root, env })
  if (result.code !== 0) throw new Error(`cohesion ${args.join(' ')} failed (exit ${String(result.code)}):\n${result.stderr}`)
  return JSON.parse(result.stdout) as Record<string, unknown>
}

/** One answer to a POST of a report, as the client saw it. */
interface Answer {
  at: number
  status: number
  code: string | undefined
  problemJson: boolean
  retryAfter: string | null
}

interface Report {
  marker: string
  key: string
  body: string
  attempts: number
  /** When the report was answered 200 or 201 (a replay counts: the first answer said the same). */
  acknowledgedAt?: number
  /** Why the client stopped without an acknowledgement. */
  unacknowledged?: string
}

interface ReadinessAnswer {
  sentAt: number
  at: number
  status: number | 'network error'
  problemJson: boolean
  retryAfter: boolean
}

/** Retry-After in milliseconds (seconds or an HTTP date), capped; the default when it is missing or unreadable. */
function retryDelay (header: string | null): number {
  if (header === null) return DEFAULT_RETRY_MS
  const ms = /^\d+$/.test(header.trim()) ? Number(header) * 1000 : Date.parse(header) - Date.now()
  return Number.isFinite(ms) ? Math.min(Math.max(ms, 0), RETRY_AFTER_CAP_MS) : DEFAULT_RETRY_MS
}

const isProblemJson = (res: Response): boolean => (res.headers.get('content-type') ?? '').startsWith('application/problem+json')

async function readAnswer (res: Response): Promise<Answer> {
  const text = await res.text()
  let code: string | undefined
  if (isProblemJson(res)) {
    try {
      code = (JSON.parse(text) as { code?: string }).code
    } catch {
      code = 'unparsable problem'
    }
  }
  return { at: now(), status: res.status, code, problemJson: isProblemJson(res), retryAfter: res.headers.get('retry-after') }
}

/** Everything that happened during the run, read once it is over. */
interface Run {
  loadStartedAt: number
  restartStartedAt?: number
  databaseBackAt?: number
  serverExit?: { at: number, code: number | string | null, lastError: string | undefined }
  reports: Report[]
  answers: Answer[]
  networkErrors: Array<{ at: number, message: string }>
  readiness: ReadinessAnswer[]
}

async function main (): Promise<number> {
  if (!existsSync(join(root, 'dist/server.js'))) throw new Error('dist/server.js is missing: run `npm run build` first (`npm run test:faults` does)')
  const cluster = new ThrowawayCluster(await freePort())
  cleanups.push(() => { cluster.destroy() })
  process.stdout.write(`fault test: PostgreSQL restart under load\n  cluster: ${cluster.version()} (${cluster.binDir}), 127.0.0.1:${cluster.port}, in ${cluster.dir}\n`)
  await cluster.start()
  await cluster.createDatabase(DATABASE)

  const port = await freePort()
  const base = `http://127.0.0.1:${port}`
  const env: NodeJS.ProcessEnv = {
    ...baseEnv(),
    DATABASE_URL: cluster.url(DATABASE),
    ENCRYPTION_KEY: randomBytes(32).toString('base64'),
    PORT: String(port),
    HOST: '127.0.0.1',
    BOOTSTRAP: 'false',
    LOG_LEVEL: 'info',
    DATABASE_CONNECT_TIMEOUT_MS: '2000',
    // All clients share one API key: at the default allowance this would be a rate-limit test.
    RATE_LIMIT_MAX: '1000000'
  }
  // Each command applies the migrations first.
  await cohesion(env, 'cities', 'create', '--slug', 'faultville', '--name', 'Faultville')
  const created = await cohesion(env, 'keys', 'create', '--city', 'faultville', '--name', 'fault test', '--scopes', 'incidents:write,incidents:read')
  if (typeof created.key !== 'string') throw new Error(`keys create printed no key: ${JSON.stringify(created)}`)
  const apiKey = created.key

  const server = startBuiltServer(env)
  cleanups.push(() => { if (server.child.exitCode === null && server.child.signalCode === null) server.child.kill('SIGKILL') })
  await waitForOk(`${base}/health/ready`, server, 60_000)
  const pid = server.child.pid
  process.stdout.write(`  server: node dist/server.js, PID ${String(pid)}, ${base}\n` +
    `  load: ${CLIENTS} clients for ${seconds(LOAD_MS)}, restart at ${seconds(RESTART_AT_MS)} (down for ${seconds(DOWN_MS)})\n`)

  // Markers are letters, spaces and short numbers: the summary scrubber removes anything like a phone number.
  const runTag = [...randomBytes(8)].map((byte) => String.fromCharCode(97 + (byte % 26))).join('')
  const markerPrefix = `${SOURCE} ${runTag} `
  const newReport = (name: string): Report => {
    const marker = `${markerPrefix}${name}`
    const body = JSON.stringify({ source: SOURCE, incident_type: 'bias_incident', bias_motivations: ['14'], occurred_on: '2024-10-12', summary: marker })
    return { marker, key: randomUUID(), body, attempts: 0 }
  }
  const post = async (report: Report): Promise<Response> => await fetch(`${base}/v1/incidents`, {
    method: 'POST',
    headers: { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json', 'idempotency-key': report.key },
    body: report.body,
    signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS)
  })

  const state: Run = { loadStartedAt: now(), reports: [], answers: [], networkErrors: [], readiness: [] }
  let loadOver = false
  server.exited.then((code) => { state.serverExit = { at: now(), code, lastError: lastLoggedError(server.stdout()) } }, () => {})
  const serverGone = (): boolean => state.serverExit !== undefined
  const loadGoesOn = (): boolean => !loadOver && !serverGone()

  /** Sends one report until it is acknowledged, refused for good, or the client gives up. */
  async function submit (report: Report): Promise<void> {
    const giveUpAt = now() + GIVE_UP_MS
    for (;;) {
      if (serverGone()) { report.unacknowledged = 'the server process exited'; return }
      if (now() > giveUpAt) { report.unacknowledged = `no acknowledgement within ${seconds(GIVE_UP_MS)}`; return }
      report.attempts++
      let pause = DEFAULT_RETRY_MS
      try {
        const answer = await readAnswer(await post(report))
        state.answers.push(answer)
        if (answer.status === 200 || answer.status === 201) { report.acknowledgedAt = answer.at; return }
        const retryable = answer.status >= 500 || answer.status === 429 || (answer.status === 409 && answer.code === 'idempotency_in_flight')
        if (!retryable) { report.unacknowledged = `refused: ${answer.status} ${answer.code ?? ''}`.trimEnd(); return }
        pause = retryDelay(answer.retryAfter)
      } catch (err) {
        state.networkErrors.push({ at: now(), message: err instanceof Error ? `${err.name}: ${err.message}` : String(err) })
      }
      await sleep(pause)
    }
  }

  async function client (index: number): Promise<void> {
    for (let seq = 1; loadGoesOn(); seq++) {
      const report = newReport(`client c${index} report r${seq}`)
      state.reports.push(report)
      await submit(report)
    }
  }

  async function pollReadiness (): Promise<void> {
    while (loadGoesOn()) {
      const sentAt = now()
      try {
        const res = await fetch(`${base}/health/ready`, { signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) })
        await res.arrayBuffer()
        state.readiness.push({ sentAt, at: now(), status: res.status, problemJson: isProblemJson(res), retryAfter: res.headers.has('retry-after') })
      } catch {
        state.readiness.push({ sentAt, at: now(), status: 'network error', problemJson: false, retryAfter: false })
      }
      await sleep(Math.max(0, READINESS_EVERY_MS - (now() - sentAt)))
    }
  }

  /** Restarts PostgreSQL, then probes with new connections until one succeeds: that ends the outage. */
  async function restartDatabase (): Promise<void> {
    await sleep(RESTART_AT_MS)
    state.restartStartedAt = now()
    await cluster.restart(DOWN_MS)
    const deadline = now() + 30_000
    while (!(await cluster.answers(DATABASE))) {
      if (now() > deadline) throw new Error(`PostgreSQL did not answer within 30 s of its restart\n${cluster.logTail()}`)
      await sleep(50)
    }
    state.databaseBackAt = now()
  }

  const stopTimer = setTimeout(() => { loadOver = true }, LOAD_MS)
  const load = Promise.all([...Array.from({ length: CLIENTS }, async (_, index) => { await client(index + 1) }), pollReadiness()])
  try {
    await restartDatabase()
  } catch (err) {
    // Without a database that came back there is nothing to check: stop the clients and report why.
    loadOver = true
    clearTimeout(stopTimer)
    await load
    throw err
  }
  await load
  clearTimeout(stopTimer)

  // One more report once the load is over: the same process must still take writes.
  let finalWrite: string
  let finalReport: Report | undefined
  if (serverGone()) {
    finalWrite = 'no: the server process exited'
  } else {
    finalReport = newReport('final write')
    try {
      const answer = await readAnswer(await post(finalReport))
      if (answer.status === 201) finalReport.acknowledgedAt = answer.at
      finalWrite = answer.status === 201 && !serverGone() ? 'yes' : `no: answered ${answer.status} ${answer.code ?? ''}`.trimEnd()
    } catch (err) {
      finalWrite = `no: ${err instanceof Error ? err.message : String(err)}`
    }
  }

  const stored = await storedCounts(cluster.url(DATABASE), markerPrefix)
  const verdict = report(state, stored, { finalWrite, finalReport, pid })
  if (state.serverExit !== undefined) {
    process.stdout.write(`\nserver stderr (last lines):\n${lastLines(server.stderr(), 30) || '(empty)'}\n` +
      `\nserver log (last lines):\n${lastLines(server.stdout(), 15) || '(empty)'}\n`)
  }
  await stopServer(server)
  return verdict
}

/** Rows per marker of this run, read straight from the database. */
async function storedCounts (url: string, markerPrefix: string): Promise<Map<string, number>> {
  const client = new pg.Client({ connectionString: url })
  await client.connect()
  try {
    const result = await client.query<{ summary: string, rows: number }>(
      'SELECT summary, count(*)::int AS rows FROM incidents WHERE summary LIKE $1 GROUP BY summary', [`${markerPrefix}%`])
    return new Map(result.rows.map((row) => [row.summary, row.rows]))
  } finally {
    await client.end()
  }
}

/** SIGTERM, as an orchestrator would stop it; SIGKILL when it does not end in time. */
async function stopServer (server: ServerProcess): Promise<void> {
  if (server.child.exitCode !== null || server.child.signalCode !== null) return
  server.child.kill('SIGTERM')
  const timer = setTimeout(() => { server.child.kill('SIGKILL') }, 20_000)
  await server.exited
  clearTimeout(timer)
}

/** Prints the results, one line per expectation, and answers the exit code. */
function report (state: Run, stored: Map<string, number>, final: { finalWrite: string, finalReport: Report | undefined, pid: number | undefined }): number {
  const t0 = state.loadStartedAt
  const at = (time: number): string => seconds(time - t0)
  const out: string[] = []
  const failed: string[] = []
  const expect = (name: string, ok: boolean, line: string): void => {
    out.push(`  ${ok ? 'ok  ' : 'FAIL'}  ${line}`)
    if (!ok) failed.push(name)
  }

  const { restartStartedAt, databaseBackAt } = state
  if (restartStartedAt !== undefined) {
    out.push(`  outage: ${at(restartStartedAt)} → ${databaseBackAt !== undefined ? `${at(databaseBackAt)} (${Math.round(databaseBackAt - restartStartedAt)} ms)` : 'the database never answered again'}`)
  }
  // From the restart command until the database has answered again for RECOVERY_GRACE_MS.
  const outageEnd = databaseBackAt !== undefined ? databaseBackAt + RECOVERY_GRACE_MS : Infinity
  const phase = (time: number): 'before' | 'outage' | 'after' =>
    restartStartedAt === undefined || time < restartStartedAt ? 'before' : time <= outageEnd ? 'outage' : 'after'

  if (state.serverExit !== undefined) {
    const when = phase(state.serverExit.at) === 'outage' ? 'during the outage' : phase(state.serverExit.at) === 'before' ? 'before the restart' : 'after the outage'
    const { code, lastError } = state.serverExit
    out.push(`  server process exited ${when}: exit ${String(code)} at ${at(state.serverExit.at)}${lastError !== undefined ? ` (last error logged: ${lastError})` : ''}`)
  }

  const reports = final.finalReport !== undefined ? [...state.reports, final.finalReport] : state.reports
  const acknowledged = reports.filter((r) => r.acknowledgedAt !== undefined)
  const unacknowledged = state.reports.filter((r) => r.unacknowledged !== undefined)
  const reasons = new Map<string, number>()
  for (const r of unacknowledged) reasons.set(r.unacknowledged ?? '', (reasons.get(r.unacknowledged ?? '') ?? 0) + 1)
  out.push(`  acknowledged: ${acknowledged.length} of ${reports.length} reports` +
    (unacknowledged.length > 0 ? ` (not acknowledged: ${[...reasons].map(([reason, n]) => `${n} ${reason}`).join('; ')})` : ''))

  const lost = acknowledged.filter((r) => (stored.get(r.marker) ?? 0) === 0)
  expect('lost', lost.length === 0, `lost (acknowledged but not stored): ${lost.length}${lost.length > 0 ? `, e.g. "${lost[0]?.marker ?? ''}"` : ''}`)
  const twice = [...stored].filter(([, rows]) => rows > 1)
  expect('stored twice', twice.length === 0, `stored twice: ${twice.length}${twice.length > 0 ? `, e.g. "${twice[0]?.[0] ?? ''}" ×${twice[0]?.[1] ?? 0}` : ''}`)

  const unavailable = state.answers.filter((a) => a.status === 503)
  const duringOutage = unavailable.filter((a) => phase(a.at) === 'outage')
  const malformed = unavailable.filter((a) => !a.problemJson || a.retryAfter === null)
  expect('503s during the outage', duringOutage.length > 0 && malformed.length === 0,
    `503s during the outage: ${duringOutage.length}` + (unavailable.length > duringOutage.length ? ` (${unavailable.length - duringOutage.length} more outside it)` : '') +
    (malformed.length === 0 ? (unavailable.length > 0 ? ', all application/problem+json with Retry-After' : '') : `, ${malformed.length} without application/problem+json or Retry-After`))

  const serverErrors = state.answers.filter((a) => a.status >= 500 && a.status !== 503)
  expect('500s', serverErrors.length === 0, `500s (any 5xx but 503): ${serverErrors.length}` +
    (serverErrors.length > 0 ? ` (${[...new Set(serverErrors.map((a) => phase(a.at)))].join(', ')})` : ''))

  const inFlight = state.answers.filter((a) => a.status === 409 && a.code === 'idempotency_in_flight')
  const inFlightAfter = inFlight.filter((a) => phase(a.at) === 'after')
  expect('in flight after recovery', inFlightAfter.length === 0,
    `retries refused as "in flight" after recovery: ${inFlightAfter.length}${inFlight.length > inFlightAfter.length ? ` (${inFlight.length - inFlightAfter.length} during the outage)` : ''}`)

  const refused = state.reports.filter((r) => r.unacknowledged?.startsWith('refused') === true)
  expect('refused for good', refused.length === 0, `reports refused for good (4xx other than 409 in flight and 429): ${refused.length}`)

  expect('same process wrote afterwards', final.finalWrite === 'yes', `same server process (PID ${String(final.pid)}) served a write after recovery: ${final.finalWrite}`)

  // A probe sent as the restart begins, or as the database comes back, may rightly find it answering: 200 is
  // accepted; anything else must be a prompt 503 problem, and the outage is long enough for some to be 503s.
  const readinessInOutage = state.readiness.filter((r) => restartStartedAt !== undefined && r.sentAt >= restartStartedAt && r.sentAt <= (databaseBackAt ?? Infinity))
  const readiness503 = readinessInOutage.filter((r) => r.status === 503)
  const badReadiness = readinessInOutage.filter((r) => r.status !== 200 && (r.status !== 503 || !r.problemJson || !r.retryAfter || r.at - r.sentAt > READINESS_LIMIT_MS))
  const slowest = Math.max(0, ...readinessInOutage.map((r) => r.at - r.sentAt))
  const lastAfter = state.readiness.filter((r) => databaseBackAt !== undefined && r.sentAt > databaseBackAt).at(-1)
  const readyAgain = lastAfter?.status === 200
  let readinessLine = `readiness during the outage: ${readinessInOutage.length} ${readinessInOutage.length === 1 ? 'answer' : 'answers'}, ${readiness503.length} of them 503`
  if (readinessInOutage.length === 0) readinessLine = 'readiness during the outage: no probe was sent inside it'
  else if (badReadiness.length > 0) readinessLine += `, ${badReadiness.length} neither 200 nor a 503 problem with Retry-After within ${seconds(READINESS_LIMIT_MS)} (${badReadiness.map((r) => String(r.status)).join(', ')})`
  else readinessLine += `, each within ${seconds(READINESS_LIMIT_MS)} (slowest ${Math.round(slowest)} ms)`
  expect('readiness during the outage', badReadiness.length === 0 && readiness503.length > 0, readinessLine)
  expect('ready again', readyAgain, `readiness after recovery: ${lastAfter === undefined ? 'no answer' : String(lastAfter.status)}`)

  // Not expectations: what the clients saw, for reading a failure.
  const byPhase = new Map<string, Map<string, number>>()
  for (const a of state.answers) {
    const counts = byPhase.get(phase(a.at)) ?? new Map<string, number>()
    const label = a.code !== undefined ? `${a.status} ${a.code}` : String(a.status)
    counts.set(label, (counts.get(label) ?? 0) + 1)
    byPhase.set(phase(a.at), counts)
  }
  out.push('  answers:')
  for (const name of ['before', 'outage', 'after']) {
    const counts = byPhase.get(name)
    if (counts !== undefined) out.push(`    ${name.padEnd(7)} ${[...counts].sort((a, b) => b[1] - a[1]).map(([label, n]) => `${label} ×${n}`).join(', ')}`)
  }
  if (state.networkErrors.length > 0) {
    const kinds = new Map<string, number>()
    for (const e of state.networkErrors) kinds.set(e.message, (kinds.get(e.message) ?? 0) + 1)
    out.push(`  network errors: ${[...kinds].map(([message, n]) => `${message} ×${n}`).join('; ')}`)
  }

  out.push('', failed.length === 0 ? 'fault test passed' : `fault test FAILED: ${failed.join(', ')}`)
  process.stdout.write(`${out.join('\n')}\n`)
  return failed.length === 0 ? 0 : 1
}

main().then((code) => {
  cleanUp()
  process.exit(code)
}, (err: unknown) => {
  process.stderr.write(`fault test could not run: ${err instanceof Error ? err.stack ?? err.message : String(err)}\n`)
  cleanUp()
  process.exit(1)
})
