// The baseline: Fastify with no plugins, no logger, no auth, no validation, no response schema, and a plain
// `pg` Pool of the same size as Cohesion's. Each route does the same database work as the Cohesion
// operation it is compared with, so the difference between the two is what Cohesion adds around it.
//
// Environment: PORT, HOST (default 127.0.0.1), DATABASE_URL, DATABASE_POOL_SIZE (default 10).
import Fastify from 'fastify'
import pg from 'pg'

const pool = new pg.Pool({
  connectionString: process.env.DATABASE_URL,
  max: Number(process.env.DATABASE_POOL_SIZE ?? 10),
  application_name: 'cohesion-bench-bare'
})
pool.on('error', (err) => { process.stderr.write(`bare: idle client error: ${err.message}\n`) })

const app = Fastify({ logger: false })

app.get('/health', async () => ({ status: 'ok' }))

// Same row as GET /v1/city: the city's columns by primary key.
const CITY = `SELECT id, slug, name, state, population, timezone, default_language, languages, small_cell_threshold,
  version, created_at, updated_at FROM cities WHERE id = $1`
app.get('/city/:id', async (request, reply) => {
  const { rows } = await pool.query(CITY, [request.params.id])
  if (rows.length === 0) return reply.code(404).send({ error: 'not found' })
  return rows[0]
})

async function close () {
  await app.close()
  await pool.end()
  process.exit(0)
}
process.on('SIGTERM', close)
process.on('SIGINT', close)

await app.listen({ port: Number(process.env.PORT ?? 3001), host: process.env.HOST ?? '127.0.0.1' })
process.stdout.write(`bare server listening on ${process.env.PORT}\n`)
