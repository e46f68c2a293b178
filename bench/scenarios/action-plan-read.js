// action-plan-read: GET /v1/action-plans/{id} with a plans:read key, for one plan of the chosen city holding
// BENCH_PLAN_ACTIONS actions (2,000) under 5 goals × 8 objectives, each action with an owner from 20 stakeholders,
// a budget and two funding lines, a fifth of them overdue (seeded by this scenario's `prepare`, set-based SQL).
// BENCH_PLAN_REQUESTS requests (30) one after the other after BENCH_PLAN_WARMUP (3). Reading a plan whole is a
// report, not a hot path: what matters is its latency and that its SQL does not grow with the plan, so there
// is no bare floor and no ratio. Targets: p99 ≤ 1,000 ms, and the round trips per request (counted with the
// other operations', through the counting proxy) a constant handful: the plan, its goals, objectives and
// actions, and one GROUPING SETS statement for every roll-up, besides the key's own look-ups.
//
// Printed: p50, p99 and mean latency, the size of the answer and the roll-up it computed.
import { performance } from 'node:perf_hooks'
import { drizzle } from 'drizzle-orm/node-postgres'
import * as schema from '../../dist/db/schema/index.js'
import { createApiKey } from '../../dist/routes/v1/api-keys/repo.js'
import { newId } from '../../dist/lib/ids.js'
import { cpuMeter, fmt, InvalidMeasurement, percentile, positive } from '../harness.js'

const TARGET_MS = 1000
const GOALS = 5
const OBJECTIVES_PER_GOAL = 8
const own = {
  actions: positive('BENCH_PLAN_ACTIONS', 2000),
  requests: positive('BENCH_PLAN_REQUESTS', 30),
  warmup: positive('BENCH_PLAN_WARMUP', 3, { zero: true })
}

const pathOf = (ctx) => `/v1/action-plans/${ctx.fixtures.actionPlanId}`

async function read (server, ctx) {
  const res = await fetch(server.url + pathOf(ctx), { headers: { authorization: `Bearer ${ctx.fixtures.planReadKey}` } })
  const text = await res.text()
  if (res.status !== 200) throw new InvalidMeasurement(`action-plan-read on ${server.label}: answered ${res.status}: ${text.slice(0, 500)}`)
  return text
}

/** The answer holds the whole seeded plan, and its roll-up counts every action. */
function checked (text, label) {
  const body = JSON.parse(text)
  const actions = body.goals?.flatMap((g) => g.objectives.flatMap((o) => o.actions)) ?? []
  if (body.goals?.length !== GOALS || actions.length !== own.actions || body.rollup?.actions !== own.actions || !(body.rollup.overdue > 0)) {
    throw new InvalidMeasurement(`action-plan-read on ${label}: unexpected answer: ${text.slice(0, 500)}`)
  }
  return body
}

const runsOf = (ctx) => (ctx.fixtures.actionPlanRuns ??= new Map())
const mean = (values) => values.reduce((sum, v) => sum + v, 0) / values.length

export default {
  name: 'action-plan-read',
  description: () => `GET /v1/action-plans/{id}: one plan of ${fmt(own.actions, 0)} actions (${GOALS} goals × ${OBJECTIVES_PER_GOAL} objectives), ` +
    `${own.requests} requests one after the other (no floor: its own target, p99 ≤ ${fmt(TARGET_MS, 0)} ms)`,
  target: null,
  unit: 'request',
  seeds: [],
  floorLabel: 'none',
  floor: null,

  /** Seeds the plan in the chosen city, set-based, and a key with plans:read. */
  async prepare (ctx) {
    const { fixtures, database } = ctx
    const cityId = fixtures.cityId
    const planId = newId()
    process.stdout.write(`  action-plan-read: a plan of ${fmt(own.actions, 0)} actions in ${fixtures.citySlug} ... `)
    const started = Date.now()
    await database.withBench(async (c) => {
      const { key } = await createApiKey(drizzle({ client: c, schema }), cityId, { name: 'Plan reader key', scopes: ['plans:read'] })
      fixtures.planReadKey = key
      const hash = '0'.repeat(64)
      await c.query('BEGIN')
      await c.query(`INSERT INTO stakeholders (city_id, id, external_id, kind, name, category, content_hash)
        SELECT $1, gen_random_uuid(), 'bench-plan-owner-' || i, 'organization', 'Plan partner ' || i, 'community_organization', $2
        FROM generate_series(1, 20) AS i`, [cityId, hash])
      await c.query('INSERT INTO action_plans (city_id, id, title, status, currency, content_hash) VALUES ($1, $2, \'Bench prevention framework\', \'active\', \'USD\', $3)', [cityId, planId, hash])
      await c.query(`INSERT INTO goals (city_id, id, plan_id, external_id, position, title, content_hash)
        SELECT $1, gen_random_uuid(), $2, 'G' || g, g, 'Goal ' || g, $3 FROM generate_series(1, ${GOALS}) AS g`, [cityId, planId, hash])
      await c.query(`INSERT INTO objectives (city_id, id, plan_id, goal_id, external_id, position, title, content_hash)
        SELECT $1, gen_random_uuid(), $2, g.id, g.external_id || '-O' || o, o, 'Objective ' || o, $3
        FROM goals g CROSS JOIN generate_series(1, ${OBJECTIVES_PER_GOAL}) AS o WHERE g.city_id = $1 AND g.plan_id = $2`, [cityId, planId, hash])
      await c.query(`WITH o AS (SELECT id, row_number() OVER (ORDER BY id) - 1 AS n FROM objectives WHERE city_id = $1 AND plan_id = $2),
        owners AS (SELECT array_agg(id ORDER BY id) AS ids FROM stakeholders WHERE city_id = $1 AND external_id LIKE 'bench-plan-owner-%')
        INSERT INTO actions (city_id, id, plan_id, objective_id, external_id, position, title, owner_id, partner_ids, horizon, due_on, status, progress,
          budget_amount, budget_currency, funding, content_hash)
        SELECT $1, gen_random_uuid(), $2, o.id, 'A' || i, i, 'Action ' || i,
          CASE WHEN i % 10 = 0 THEN NULL ELSE owners.ids[1 + i % 20] END, ARRAY[owners.ids[1 + (i + 7) % 20]],
          (ARRAY['near_term', 'medium_term', 'long_term'])[1 + i % 3], DATE '2025-01-01' + (i % 1500),
          (ARRAY['not_started', 'on_track', 'at_risk', 'off_track', 'completed', 'cancelled'])[1 + i % 6], i % 101,
          100000 + (i % 50) * 1000, 'USD',
          jsonb_build_array(
            jsonb_build_object('source_type', (ARRAY['local_government', 'community_foundation', 'federal_grant', 'state_grant'])[1 + i % 4], 'funder', NULL,
              'amount', 40000 + (i % 7) * 1000, 'currency', 'USD', 'secured', true, 'secured_on', '2025-01-15'),
            jsonb_build_object('source_type', 'private', 'funder', NULL, 'amount', 20000, 'currency', 'USD', 'secured', i % 2 = 0, 'secured_on', NULL)),
          $3
        FROM generate_series(0, ${own.actions - 1}) AS i
        JOIN o ON o.n = i % ${GOALS * OBJECTIVES_PER_GOAL} CROSS JOIN owners`, [cityId, planId, hash])
      await c.query('COMMIT')
      await c.query('VACUUM (ANALYZE) action_plans, goals, objectives, actions')
    })
    fixtures.actionPlanId = planId
    process.stdout.write(`${((Date.now() - started) / 1000).toFixed(1)} s\n`)
  },

  async cohesion (server, ctx) {
    const label = `action-plan-read on ${server.label}`
    const body = checked(await read(server, ctx), label)
    process.stdout.write(`  ${label}: ${own.warmup} warm-up and ${own.requests} measured requests ... `)
    for (let i = 0; i < own.warmup; i++) await read(server, ctx)
    const meter = await cpuMeter(server.pid, ctx.database)
    const latencies = []
    let bytes = 0
    const started = performance.now()
    for (let i = 0; i < own.requests; i++) {
      const t0 = performance.now()
      bytes = Buffer.byteLength(await read(server, ctx))
      latencies.push(performance.now() - t0)
    }
    const seconds = (performance.now() - started) / 1000
    const cpu = await meter.stop()
    const run = { p50: percentile(latencies, 50), p99: percentile(latencies, 99), mean: mean(latencies), bytes, rollup: body.rollup }
    const runs = runsOf(ctx)
    if (!runs.has(server.label)) runs.set(server.label, [])
    runs.get(server.label).push(run)
    process.stdout.write(`p50 ${fmt(run.p50, 0)} ms, p99 ${fmt(run.p99, 0)} ms\n`)
    const n = latencies.length
    return { rate: n / seconds, p50: run.p50, p99: run.p99, units: n, requests: n, cpu: { server: cpu.server / n, postgres: cpu.postgres / n, load: cpu.load / n } }
  },

  notes (ctx) {
    const notes = []
    for (const [label, runs] of runsOf(ctx)) {
      const avg = (get) => mean(runs.map(get))
      const r = runs[0].rollup
      notes.push({ ok: true, text: `${label}: latency p50 ${fmt(avg((x) => x.p50), 0)} ms, p99 ${fmt(avg((x) => x.p99), 0)} ms, mean ${fmt(avg((x) => x.mean), 0)} ms` })
      notes.push({
        ok: true,
        text: `${label}: answer ${fmt(runs[0].bytes / 1024, 0)} kB; plan roll-up: ${r.actions} actions, progress ${r.progress}, ${r.overdue} overdue, ` +
          `${r.without_owner} without owner, local funding share ${r.local_funding_share}`
      })
    }
    return notes
  },

  verdicts (ctx) {
    return [...runsOf(ctx)].map(([label, runs]) => {
      const p99 = mean(runs.map((r) => r.p99))
      return { label, figure: `p99 ${fmt(p99, 0)} ms`, target: `≤ ${fmt(TARGET_MS, 0)} ms`, met: p99 <= TARGET_MS }
    })
  },

  roundTrips: [
    {
      name: `GET /v1/action-plans/{id} (${fmt(own.actions, 0)} actions)`,
      async send (server, ctx) { await read(server, ctx) }
    }
  ]
}
