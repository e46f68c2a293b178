// incident-list: GET /v1/incidents?occurred_from&occurred_to&bias_motivation (one page of 50) with a key
// holding incidents:read, in the chosen city at BENCH_INCIDENTS incidents (the same seeded city as the ingest:
// one size for both), against the same SELECT through bare pg (bench/queries.js). The range and the code are
// BENCH_LIST_FROM (2024-04-01), BENCH_LIST_TO (2024-06-30) and BENCH_LIST_CODE (14, anti-Asian: one of the
// common codes).
//
// Checks: the EXPLAIN ANALYZE of both statements (Cohesion's captured from its own listIncidents, without a
// database) is printed once and must use incidents_occurred_idx, and the first page must be full and match
// the filter on both servers.
import { drizzle } from 'drizzle-orm/node-postgres'
import * as schema from '../../dist/db/schema/index.js'
import { listIncidents } from '../../dist/routes/v1/incidents/repo.js'
import { date, fmt, measureRequests } from '../harness.js'
import { LIST_LIMIT, LIST_SQL } from '../queries.js'

const own = {
  from: date('BENCH_LIST_FROM', '2024-04-01'),
  to: date('BENCH_LIST_TO', '2024-06-30'),
  code: process.env.BENCH_LIST_CODE || '14'
}
const query = `occurred_from=${own.from}&occurred_to=${own.to}&bias_motivation=${own.code}`
const INDEX = 'incidents_occurred_idx'

/** A full first page, every item in the range and with the code. */
const fullPage = (body) => Array.isArray(body.data) && body.data.length === LIST_LIMIT &&
  body.data.every((i) => i.bias_motivations.includes(own.code) && i.occurred_on >= own.from && i.occurred_on <= own.to)

export default {
  name: 'incident-list',
  description: (settings) => `GET /v1/incidents?${query}: one page (${LIST_LIMIT}) at ${fmt(settings.incidents, 0)} incidents in the city`,
  target: 0.85,
  unit: 'request',
  sliced: true,
  seeds: ['incidents'],
  floorLabel: 'bare (Fastify + pg)',

  /** Prints the plan of both statements once, on a warm cache, and keeps whether each uses the index. */
  async prepare (ctx) {
    const { fixtures } = ctx
    const statements = {
      cohesion: await cohesionListStatement(fixtures.cityId),
      bare: { text: LIST_SQL, values: [fixtures.cityId, own.from, own.to, own.code, LIST_LIMIT + 1] }
    }
    fixtures.listPlans = {}
    await ctx.database.withBench(async (c) => {
      for (const [name, { text, values }] of Object.entries(statements)) {
        await c.query(text, values) // once to read the pages in, so that the plan shows the steady state
        const { rows } = await c.query(`EXPLAIN (ANALYZE, BUFFERS) ${text}`, values)
        const plan = rows.map((r) => r['QUERY PLAN'])
        const count = (await c.query(text, values)).rows.length
        fixtures.listPlans[name] = { usesIndex: plan.some((line) => line.includes(INDEX)), rows: count }
        console.log(`EXPLAIN ANALYZE of the incident-list statement ${name === 'cohesion' ? 'Cohesion sends (captured from its listIncidents)' : 'of the bare server'} (${count} rows):`)
        for (const line of plan) console.log(`    ${line}`)
      }
    })
  },

  /** The plan check, printed under the scenario's headline; a failed one is flagged in the verdict. */
  notes (ctx) {
    const plans = Object.entries(ctx.fixtures.listPlans ?? {})
    const ok = plans.length > 0 && plans.every(([, p]) => p.usesIndex && p.rows > 0)
    return [{ ok, text: `EXPLAIN: ${plans.map(([name, p]) => `${name} ${p.usesIndex ? 'uses' : 'does NOT use'} ${INDEX} (${p.rows} rows)`).join('; ')}` }]
  },

  cohesion: (server, ctx) => measureRequests(ctx, server, {
    label: `incident-list on ${server.label}`,
    request: { method: 'GET', path: `/v1/incidents?${query}`, headers: { authorization: `Bearer ${ctx.fixtures.readKey}` } },
    check: fullPage
  }),

  floor: (server, ctx) => measureRequests(ctx, server, {
    label: `incident-list on ${server.label}`,
    request: { method: 'GET', path: `/incidents?city_id=${ctx.fixtures.cityId}&${query}` },
    check: fullPage
  })
}

/** The statement Cohesion sends for the list, captured from its own repository function (no database involved). */
async function cohesionListStatement (cityId) {
  let captured = null
  const client = {
    query: async (config, values) => {
      captured = typeof config === 'string' ? { text: config, values } : { text: config.text, values: values ?? config.values }
      return { rows: [], rowCount: 0, fields: [], command: 'SELECT' }
    }
  }
  await listIncidents(drizzle({ client, schema }), cityId, { occurred_from: own.from, occurred_to: own.to, bias_motivation: own.code, limit: LIST_LIMIT }, null, undefined)
  if (captured?.text === undefined || !Array.isArray(captured.values)) throw new Error('could not capture the statement of listIncidents')
  return captured
}
