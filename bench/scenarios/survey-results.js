// survey-results: GET /v1/surveys/{id}/results on a 40-question survey with BENCH_SURVEY_RESPONSES responses
// (100,000) in the chosen city, seeded in SQL with generate_series (a neighbourhood breakdown question, 15
// single-choice, 8 multiple-choice, 6 likert_5, 4 rating_0_10, 3 yes_no, 2 number and 1 text question; about
// 4.5 million rows of survey_answers). Each of BENCH_RESULTS_REQUESTS requests (10, after
// BENCH_RESULTS_WARMUP 2) is made twice, unbroken and with `breakdown=neighbourhood`, one after the other.
// Results are a report, not a hot path, so there is no bare floor: the floor is the same aggregate SQL the
// route sends (its own statements, rendered by the app's code), run directly from this process on one
// connection as many times. Target: each kind of request takes at most 1.5 × its SQL (mean latency).
//
// Printed: mean and p99 latency of each kind of request and of its SQL; the server's resident memory before
// the requests and its peak during them (VmRSS of /proc/<pid>/status every 10 ms), and VmHWM since start.
import { performance } from 'node:perf_hooks'
import pg from 'pg'
import { PgDialect } from 'drizzle-orm/pg-core'
import { countsStatement, statisticsStatement } from '../../dist/routes/v1/surveys/results-repo.js'
import { cpuMeter, fmt, InvalidMeasurement, memoryMb, percentile, positive } from '../harness.js'

const TARGET_RATIO = 1.5
const RSS_SAMPLE_MS = 10
const own = {
  responses: positive('BENCH_SURVEY_RESPONSES', 100_000),
  requests: positive('BENCH_RESULTS_REQUESTS', 10),
  warmup: positive('BENCH_RESULTS_WARMUP', 2, { zero: true })
}
const KINDS = [
  { name: 'unbroken', query: '', breakdown: undefined },
  { name: 'by neighbourhood', query: '?breakdown=neighbourhood', breakdown: 'neighbourhood' }
]

const label = (code) => ({ en: code.replace(/_/g, ' ') })
const options = (n) => Array.from({ length: n }, (_, i) => ({ code: `o${i + 1}`, label: label(`option ${i + 1}`) }))

/** The 40 questions: what they are matters to the results (types, options), not their wording. */
function questions () {
  const list = [{ code: 'neighbourhood', type: 'single_choice', required: true, breakdown: true, label: label('neighbourhood'), options: options(8) }]
  const add = (count, type, extra = {}) => {
    for (let i = 0; i < count; i++) list.push({ code: `${type}_${i + 1}`, type, required: false, breakdown: false, label: label(`${type} ${i + 1}`), ...extra })
  }
  add(15, 'single_choice', { options: options(5) })
  add(8, 'multiple_choice', { options: options(6) })
  add(6, 'likert_5')
  add(4, 'rating_0_10')
  add(3, 'yes_no')
  add(2, 'number', { min: 0, max: 100 })
  add(1, 'text')
  if (list.length !== 40) throw new Error('the bench survey must have 40 questions')
  return list
}

/** The survey, its responses and their answers, all set-based. */
async function seedSurvey (client, cityId, responses) {
  const qs = questions()
  const { rows: [survey] } = await client.query(`
    INSERT INTO surveys (city_id, id, title, languages, default_language, status, questions, content_hash)
    VALUES ($1::uuid, gen_random_uuid(), '{"en": "Community survey (bench)"}', '{en}', 'en', 'closed', $2::jsonb, md5($1::text) || md5($1::text || 's'))
    RETURNING id`, [cityId, JSON.stringify(qs)])
  await client.query('SELECT setseed(0.42)')
  await client.query(`
    INSERT INTO survey_responses (city_id, survey_id, id, external_id, language, channel, filled_on, content_hash)
    SELECT $1::uuid, $2::uuid, gen_random_uuid(), 'bench-form-' || g, 'en', 'paper', date '2026-01-01' + (g % 300), md5(g::text) || md5(g::text || 'f')
    FROM generate_series(1, $3::int) AS g`, [cityId, survey.id, responses])
  // The answers' foreign-key checks are planned from these statistics: left at "empty", each of millions of
  // checks would scan every response.
  await client.query('ANALYZE survey_responses')
  const single = qs.filter((q) => q.type !== 'multiple_choice' && q.type !== 'text')
  // One answer per response and question (5 % skipped, never the required breakdown); options and points
  // skewed, and two neighbourhoods of about 5 and 30 respondents, so that cells are suppressed by neighbourhood.
  await client.query(`
    INSERT INTO survey_answers (city_id, survey_id, response_id, question_code, option_code, value, position)
    SELECT r.city_id, r.survey_id, r.id, q.code,
      CASE WHEN q.code = 'neighbourhood' THEN CASE WHEN random() < 0.00005 THEN 'o8' WHEN random() < 0.0003 THEN 'o7' ELSE 'o' || (1 + floor(power(random(), 2) * 6)::int) END
           WHEN q.type = 'single_choice' THEN 'o' || (1 + floor(power(random(), 3) * q.options)::int)
           WHEN q.type = 'yes_no' THEN CASE WHEN random() < 0.7 THEN 'yes' ELSE 'no' END ELSE '' END,
      CASE q.type WHEN 'likert_5' THEN 1 + floor(random() * 5) WHEN 'rating_0_10' THEN floor(power(random(), 0.5) * 11)
                  WHEN 'number' THEN round((random() * 60)::numeric, 1) END,
      0
    FROM survey_responses r
    CROSS JOIN unnest($3::text[], $4::text[], $5::int[], $6::bool[]) AS q(code, type, options, required)
    WHERE r.city_id = $1 AND r.survey_id = $2 AND (q.required OR random() < 0.95)`,
  [cityId, survey.id, single.map((q) => q.code), single.map((q) => q.type), single.map((q) => q.options?.length ?? 0), single.map((q) => q.required)])
  const multiple = qs.filter((q) => q.type === 'multiple_choice')
  // Each option of a multiple-choice question chosen with its own probability; positions 0, 1, ... in order.
  await client.query(`
    INSERT INTO survey_answers (city_id, survey_id, response_id, question_code, option_code, value, position)
    SELECT city_id, survey_id, id, code, option, NULL, (row_number() OVER (PARTITION BY id, code ORDER BY option) - 1)::smallint
    FROM (
      SELECT r.city_id, r.survey_id, r.id, q.code, 'o' || k AS option
      FROM survey_responses r
      CROSS JOIN unnest($3::text[]) AS q(code)
      CROSS JOIN generate_series(1, 6) AS k
      WHERE r.city_id = $1 AND r.survey_id = $2 AND random() < 0.5 / k
    ) chosen`, [cityId, survey.id, multiple.map((q) => q.code)])
  const { rows: [{ n }] } = await client.query('SELECT count(*)::int AS n FROM survey_answers WHERE city_id = $1 AND survey_id = $2', [cityId, survey.id])
  return { surveyId: survey.id, questions: qs, answers: n }
}

async function request (server, ctx, kind) {
  const res = await fetch(`${server.url}/v1/surveys/${ctx.fixtures.survey.surveyId}/results${kind.query}`, { headers: { authorization: `Bearer ${ctx.fixtures.adminKey}` } })
  const text = await res.text()
  if (res.status !== 200) throw new InvalidMeasurement(`survey-results on ${server.label}: answered ${res.status}: ${text.slice(0, 500)}`)
  return text
}

/** The answer has every question but the text one, the required breakdown counts every response, and cells are suppressed. */
function checked (text, kind, label) {
  const body = JSON.parse(text)
  const first = body.questions?.[0]
  const suppressed = body.questions?.flatMap((q) => [...q.options, ...(q.groups ?? []).flatMap((g) => g.options)]).filter((o) => o.suppressed).length ?? 0
  const ok = body.questions?.length === 39 && first?.n === own.responses && (kind.breakdown === undefined || (first?.groups?.length === 8 && suppressed > 0))
  if (!ok) throw new InvalidMeasurement(`survey-results (${kind.name}) on ${label}: unexpected answer: ${text.slice(0, 500)}`)
  return { suppressed }
}

/** The route's own statements, as SQL text and parameters, for the floor to run directly. */
function statementsOf (ctx, kind) {
  const dialect = new PgDialect()
  const plan = { surveyId: ctx.fixtures.survey.surveyId, questions: ctx.fixtures.survey.questions.filter((q) => q.type !== 'text'), breakdown: kind.breakdown }
  return [countsStatement(ctx.fixtures.cityId, plan), statisticsStatement(ctx.fixtures.cityId, plan)].map((statement) => dialect.sqlToQuery(statement))
}

const runsOf = (ctx) => (ctx.fixtures.surveyRuns ??= new Map())
const mean = (values) => values.reduce((sum, v) => sum + v, 0) / values.length

export default {
  name: 'survey-results',
  description: () => `GET /v1/surveys/{id}/results: 40 questions, ${fmt(own.responses, 0)} responses, unbroken and by neighbourhood, ` +
    `${own.requests} requests each one after the other (floor: the route's aggregate SQL run directly; target ≤ ${TARGET_RATIO} × its time)`,
  target: null,
  unit: 'request',
  seeds: [],
  floorLabel: 'none',
  floor: null,

  async prepare (ctx) {
    process.stdout.write(`\n  survey-results: a 40-question survey with ${own.responses.toLocaleString('en-US')} responses ... `)
    const started = Date.now()
    await ctx.database.withBench(async (c) => {
      ctx.fixtures.survey = await seedSurvey(c, ctx.fixtures.cityId, own.responses)
      process.stdout.write(`${fmt(ctx.fixtures.survey.answers, 0)} answers in ${((Date.now() - started) / 1000).toFixed(1)} s; VACUUM ANALYZE ... `)
      await c.query('VACUUM (ANALYZE) survey_responses, survey_answers')
    })
    process.stdout.write('done\n')
  },

  async cohesion (server, ctx) {
    const { database } = ctx
    const label = `survey-results on ${server.label}`
    const sql = new pg.Client({ connectionString: database.url, application_name: 'cohesion-bench-sql' })
    await sql.connect()
    const runs = runsOf(ctx)
    if (!runs.has(server.label)) runs.set(server.label, [])
    const meter = await cpuMeter(server.pid, database)
    const all = []
    const started = performance.now()
    try {
      for (const kind of KINDS) {
        const shape = checked(await request(server, ctx, kind), kind, label)
        process.stdout.write(`  ${label} (${kind.name}): ${own.warmup} warm-up and ${own.requests} measured requests, then its SQL ... `)
        for (let i = 0; i < own.warmup; i++) await request(server, ctx, kind)
        const rssBefore = memoryMb(server.pid, 'VmRSS')
        let rssPeak = rssBefore
        const sampler = setInterval(() => { rssPeak = Math.max(rssPeak, memoryMb(server.pid, 'VmRSS')) }, RSS_SAMPLE_MS)
        const latencies = []
        let bytes = 0
        try {
          for (let i = 0; i < own.requests; i++) {
            const t0 = performance.now()
            bytes = Buffer.byteLength(await request(server, ctx, kind))
            latencies.push(performance.now() - t0)
          }
        } finally {
          clearInterval(sampler)
        }
        rssPeak = Math.max(rssPeak, memoryMb(server.pid, 'VmRSS'))
        // The floor: the same statements, on one connection, after the same warm-up.
        const statements = statementsOf(ctx, kind)
        const runSql = async () => { for (const s of statements) await sql.query(s.sql, s.params) }
        for (let i = 0; i < own.warmup; i++) await runSql()
        const sqlTimes = []
        for (let i = 0; i < own.requests; i++) {
          const t0 = performance.now()
          await runSql()
          sqlTimes.push(performance.now() - t0)
        }
        const run = {
          kind: kind.name,
          mean: mean(latencies),
          p99: percentile(latencies, 99),
          sqlMean: mean(sqlTimes),
          sqlP99: percentile(sqlTimes, 99),
          rssBefore,
          rssPeak,
          hwm: memoryMb(server.pid, 'VmHWM'),
          bytes,
          suppressed: shape.suppressed
        }
        runs.get(server.label).push(run)
        all.push(...latencies)
        process.stdout.write(`mean ${fmt(run.mean, 0)} ms (SQL ${fmt(run.sqlMean, 0)} ms), peak RSS ${fmt(run.rssPeak, 0)} MB\n`)
      }
    } finally {
      await sql.end()
    }
    const seconds = (performance.now() - started) / 1000
    const cpu = await meter.stop()
    const n = all.length
    return {
      rate: n / seconds,
      p50: percentile(all, 50),
      p99: percentile(all, 99),
      units: n,
      requests: n,
      cpu: { server: cpu.server / n, postgres: cpu.postgres / n, load: cpu.load / n }
    }
  },

  notes (ctx) {
    const notes = []
    for (const [label, runs] of runsOf(ctx)) {
      for (const kind of KINDS) {
        const of = runs.filter((r) => r.kind === kind.name)
        if (of.length === 0) continue
        const avg = (get) => mean(of.map(get))
        notes.push({
          ok: true,
          text: `${label} (${kind.name}): mean ${fmt(avg((r) => r.mean), 0)} ms, p99 ${fmt(avg((r) => r.p99), 0)} ms; its SQL directly: mean ` +
            `${fmt(avg((r) => r.sqlMean), 0)} ms, p99 ${fmt(avg((r) => r.sqlP99), 0)} ms; answer ${fmt(of[0].bytes / 1024, 0)} kB with ${of[0].suppressed} suppressed cells`
        })
        notes.push({
          ok: true,
          text: `${label} (${kind.name}): server RSS ${fmt(avg((r) => r.rssBefore), 0)} MB before, peak ${fmt(avg((r) => r.rssPeak), 0)} MB during ` +
            `(VmRSS every ${RSS_SAMPLE_MS} ms), VmHWM since start ${fmt(avg((r) => r.hwm), 0)} MB`
        })
      }
    }
    return notes
  },

  verdicts (ctx) {
    const verdicts = []
    for (const [label, runs] of runsOf(ctx)) {
      for (const kind of KINDS) {
        const of = runs.filter((r) => r.kind === kind.name)
        if (of.length === 0) continue
        const ratio = mean(of.map((r) => r.mean)) / mean(of.map((r) => r.sqlMean))
        verdicts.push({ label: `${label} ${kind.name}`, figure: `${ratio.toFixed(2)} × SQL`, target: `≤ ${TARGET_RATIO} × SQL`, met: ratio <= TARGET_RATIO })
      }
    }
    return verdicts
  },

  roundTrips: [
    {
      name: 'GET /v1/surveys/{id}/results?breakdown=neighbourhood',
      async send (server, ctx) { await request(server, ctx, KINDS[1]) }
    }
  ]
}
