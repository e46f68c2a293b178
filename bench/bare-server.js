// The baseline: Fastify with no plugins, no logger, no auth, no validation, no response schema, and a plain
// `pg` Pool of the same size as Cohesion's. Each route does the same database work as the Cohesion
// operation it is compared with, so the difference between the two is what Cohesion adds around it.
//
// Environment: PORT, HOST (default 127.0.0.1), DATABASE_URL, DATABASE_POOL_SIZE (default 10).
import Fastify from 'fastify'
import pg from 'pg'
import { LIST_LIMIT, LIST_SQL } from './queries.js'

// Dates as the text PostgreSQL sends (YYYY-MM-DD), as Drizzle's date columns in string mode hand them to Cohesion.
pg.types.setTypeParser(pg.types.builtins.DATE, (value) => value)

const pool = new pg.Pool({
  connectionString: process.env.DATABASE_URL,
  max: Number(process.env.DATABASE_POOL_SIZE ?? 10),
  // As long as Cohesion's pool keeps an idle connection: a side waiting for its next slice keeps its sessions.
  idleTimeoutMillis: 30000,
  application_name: 'cohesion-bench-bare'
})
pool.on('error', (err) => { process.stderr.write(`bare: idle client error: ${err.message}\n`) })

const app = Fastify({ logger: false })

app.get('/health', async () => ({ status: 'ok' }))

// Same row as GET /v1/city: the city's columns by primary key, through a named prepared statement (parsed
// and planned once per connection): the cheapest read pg offers, so that the floor is one.
const CITY = `SELECT id, slug, name, state, population, timezone, default_language, languages, small_cell_threshold,
  version, created_at, updated_at FROM cities WHERE id = $1`
app.get('/city/:id', async (request, reply) => {
  const { rows } = await pool.query({ name: 'get_city', text: CITY, values: [request.params.id] })
  if (rows.length === 0) return reply.code(404).send({ error: 'not found' })
  return rows[0]
})

// Same page as GET /v1/incidents?occurred_from&occurred_to&bias_motivation: the same SELECT (bench/queries.js),
// and, like Cohesion, the sealed personal columns are not sent (only whether there are any).
app.get('/incidents', async (request) => {
  const q = request.query
  const { rows } = await pool.query(LIST_SQL, [q.city_id, q.occurred_from, q.occurred_to, q.bias_motivation, LIST_LIMIT + 1])
  const data = rows.slice(0, LIST_LIMIT).map(({ personal_data: sealed, data_key: _key, ...row }) => ({ ...row, personal_data: sealed === null ? 'none' : 'held' }))
  return { data, more: rows.length > LIST_LIMIT }
})

async function close () {
  await app.close()
  await pool.end()
  process.exit(0)
}
process.on('SIGTERM', close)
process.on('SIGINT', close)

// Quiet once listening: the runner polls /health, and anything on stdout would be shown after every run.
await app.listen({ port: Number(process.env.PORT ?? 3001), host: process.env.HOST ?? '127.0.0.1' })
